<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Closure;
use GuzzleHttp\Exception\TransferException;
use Illuminate\Http\Client\ConnectionException;
use Illuminate\Http\Client\RequestException;
use Illuminate\Http\Client\Factory;
use Illuminate\Http\Client\PendingRequest;
use Illuminate\Http\Client\Response;
use Illuminate\Support\Collection;
use Illuminate\Support\LazyCollection;
use InvalidArgumentException;
use RuntimeException;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastJobFailed;
use SalesForecast\Laravel\Exceptions\ForecastNotFinished;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use UnexpectedValueException;

/**
 * The forecast web API through Laravel's Http client, so Http::fake() and the app's HTTP
 * middleware apply: the factory is resolved at each call (Http::fake() swaps it after this client
 * was built). Errors become ApiException with the service's stable code; a service that does not
 * answer is `unreachable`. Reads are retried on a connection error, 429 and 502-504
 * (sales-forecast.api.retries); a submission only when it carries an idempotency key.
 */
final class ForecastClient
{
    /** @var Closure(): Factory */
    private Closure $http;

    /** @param Factory|Closure(): Factory $http the factory, or how to get it at each call */
    public function __construct(
        Factory|Closure $http,
        private string $baseUrl,
        private ?string $apiKey = null,
        private float $timeout = 10.0,
        private float $connectTimeout = 5.0,
        private int $retries = 0,
        private int $retryDelayMs = 200,
    ) {
        $this->http = $http instanceof Factory ? fn () => $http : $http;
    }

    /**
     * POST /api/v1/forecasts, after checking the request as the service will: a PENDING result
     * whose taskId() is the job's.
     *
     * @throws Exceptions\InvalidForecastRequest|ApiException
     */
    public function submit(ForecastRequest|array $request = [], ?string $idempotencyKey = null): ForecastResult
    {
        $body = ForecastRequest::from($request);
        $pending = $this->request(retry: $idempotencyKey !== null);
        if ($idempotencyKey !== null) {
            $pending = $pending->withHeaders(['Idempotency-Key' => $idempotencyKey]);
        }
        // A JSON object even when empty ({} runs the default forecast; [] would be refused).
        $json = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
        return ForecastResult::fromStatus($this->json(fn () => $pending->withBody($json, 'application/json')->post('/api/v1/forecasts')));
    }

    /** GET /api/v1/forecasts/{id}: the job's state, progress, result or error. */
    public function status(string $taskId): ForecastResult
    {
        return ForecastResult::fromStatus($this->json(fn () => $this->request()->get('/api/v1/forecasts/' . rawurlencode($taskId))));
    }

    /**
     * Poll status() until SUCCESS, FAILURE or REVOKED (sleeping through Laravel's Sleep).
     *
     * @throws ForecastTimeout when $timeout seconds pass first (the job may still finish later)
     */
    public function wait(string $taskId, float $timeout = 60.0, float $interval = 0.5): ForecastResult
    {
        return Poll::until(fn () => $this->status($taskId), $taskId, $timeout, $interval);
    }

    /** DELETE /api/v1/forecasts/{id}: cancel a job that has not finished. */
    public function cancel(string $taskId): array
    {
        return $this->json(fn () => $this->request()->delete('/api/v1/forecasts/' . rawurlencode($taskId)));
    }

    /**
     * One page of a grouped job's series: ['series' => [...], 'next_cursor' => string|null, 'level', 'matching'].
     * $sort: key (the default), forecast, growth, accuracy or order (the suggested order, §12), `-` first for the largest first.
     */
    public function seriesPage(string $taskId, ?int $level = null, int $limit = 100, ?string $cursor = null, ?string $q = null, ?string $sort = null): array
    {
        $query = array_filter(['level' => $level, 'limit' => $limit, 'cursor' => $cursor, 'q' => $q, 'sort' => $sort], fn ($v) => $v !== null);
        return $this->json(fn () => $this->request()->get('/api/v1/forecasts/' . rawurlencode($taskId) . '/series', $query));
    }

    /** Every series of a level, page after page, fetched as the collection is walked. */
    public function series(string $taskId, ?int $level = null, ?string $q = null, int $pageSize = 100, ?string $sort = null): LazyCollection
    {
        return LazyCollection::make(function () use ($taskId, $level, $q, $pageSize, $sort) {
            $cursor = null;
            $seen = [];
            do {
                $page = $this->seriesPage($taskId, $level, $pageSize, $cursor, $q, $sort);
                yield from $page['series'] ?? [];
                $cursor = $page['next_cursor'] ?? null;
                if ($cursor !== null && isset($seen[$cursor])) {
                    throw new ApiException('upstream_invalid', 'the series pages loop back on themselves', 200);
                }
                $seen[(string) $cursor] = true;
            } while ($cursor !== null);
        });
    }

    /**
     * A finished grouped job's suggested orders (docs/api.md §12): one SuggestedOrder per series of
     * its deepest level (the products), read from GET /api/v1/forecasts/{id}/series page after
     * page ($pageSize a page, at most 500). Reading is bounded: never more than the number of
     * series the job's result says that level has, nor than $limit when given; cursors that loop
     * are upstream_invalid. $sort is the service's (`key`, the hierarchy's order; `-order`, the largest suggested
     * orders first: with $limit, the top ones in one page).
     *
     * @return Collection<int, SuggestedOrder>
     * @throws ForecastNotFinished while the job runs (the service's 409 not_finished)
     * @throws ForecastJobFailed when it ended FAILURE or REVOKED (errorCode(): the job's own code)
     * @throws ApiException not_found for an unknown or expired job, one that was not grouped or had no inventory
     */
    public function suggestedOrders(string $taskId, ?int $limit = null, string $sort = 'key', int $pageSize = 500): Collection
    {
        if ($limit !== null && $limit < 1) {
            throw new InvalidArgumentException('limit: at least 1, or null for every product');
        }
        $status = $this->status($taskId);
        if (!$status->finished()) {
            throw new ForecastNotFinished($taskId, $status->status());
        }
        if ($error = $status->error()) {
            throw new ForecastJobFailed($taskId, $status->status(), $error);
        }
        $hierarchy = $status->hierarchy();
        $levels = is_array($hierarchy['levels'] ?? null) ? array_values($hierarchy['levels']) : [];
        if ($hierarchy === null || $levels === []) {
            throw new ApiException('not_found', 'the job has no suggested orders: it was not a grouped forecast '
                . '(a single forecast\'s inventory is its result\'s data.inventory)', 404);
        }
        if (!is_array($hierarchy['inventory'] ?? null)) {
            throw new ApiException('not_found', 'the job has no suggested orders: it was submitted without an inventory field (docs/api.md §12)', 404);
        }
        $deepest = count($levels);
        $bound = (int) ($levels[$deepest - 1]['series'] ?? 0);
        $wanted = $limit === null ? $bound : min($limit, $bound);
        $measure = (string) ($hierarchy['measure'] ?? 'units');
        $orders = [];
        $cursor = null;
        $seen = [];
        while (count($orders) < $wanted) {
            try {
                $page = $this->seriesPage($taskId, $deepest, max(1, min($pageSize, 500, $wanted - count($orders))), $cursor, null, $sort);
            } catch (ApiException $e) {
                throw $e->errorCode === 'not_finished' ? new ForecastNotFinished($taskId, $status->status()) : $e;
            }
            foreach ($page['series'] ?? [] as $series) {
                if (count($orders) === $wanted) {
                    break;
                }
                try {
                    $orders[] = SuggestedOrder::fromSeries(is_array($series) ? $series : [], $measure);
                } catch (UnexpectedValueException $e) {
                    throw new ApiException('upstream_invalid', 'a series without inventory figures: ' . $e->getMessage(), 200);
                }
            }
            $cursor = $page['next_cursor'] ?? null;
            if ($cursor === null) {
                break;
            }
            if (isset($seen[$cursor]) || (($page['series'] ?? []) === [] && count($orders) < $wanted)) {
                throw new ApiException('upstream_invalid', 'the series pages loop back on themselves', 200);
            }
            $seen[(string) $cursor] = true;
        }
        return new Collection($orders);
    }

    /**
     * GET /api/v1/forecasts/{id}/series.csv: one line per series (the total is level 0) and horizon
     * month, streamed to $to, a file path or a writable stream (php://output in a streamed download),
     * without holding it in memory. Returns the bytes written.
     *
     * The body is received into a temporary file (Http's sink) and only then moved to the path or
     * copied to the stream: an error answer or a transfer cut short throws ApiException and writes
     * nothing to $to, and a path appears whole or not at all.
     *
     * @param string|resource $to
     */
    public function seriesCsv(string $taskId, $to, float $timeout = 300.0): int
    {
        if (!is_string($to) && !(is_resource($to) && get_resource_type($to) === 'stream')) {
            throw new InvalidArgumentException('seriesCsv() writes to a file path or a stream resource');
        }
        $dir = is_string($to) ? dirname($to) : sys_get_temp_dir();  // beside the path: rename() is atomic
        $part = is_dir($dir) ? tempnam($dir, '.series-csv-') : false;
        if ($part === false) {
            throw new RuntimeException("cannot create a temporary file in $dir");
        }
        try {
            $response = $this->send(fn () => $this->request('text/csv', $timeout)->sink($part)
                ->get('/api/v1/forecasts/' . rawurlencode($taskId) . '/series.csv'));
            if (!$response->successful()) {
                $this->fail($response);  // a small JSON error document, read back from the sink
            }
            if (is_string($to)) {
                chmod($part, 0666 & ~umask());  // tempnam() makes it 0600; a file as any other
                if (!rename($part, $to)) {
                    throw new RuntimeException("cannot move the CSV to $to");
                }
                clearstatcache(true, $to);
                return (int) filesize($to);
            }
            $in = fopen($part, 'rb');
            $bytes = stream_copy_to_stream($in, $to);
            fclose($in);
            if ($bytes === false) {
                throw new RuntimeException('cannot write the CSV to the stream');
            }
            return $bytes;
        } finally {
            if (is_file($part)) {
                unlink($part);
            }
        }
    }

    /** GET /api/v1/history: past forecasts, newest first (['forecasts' => [...]]). */
    public function history(?string $group = null, ?int $limit = null): array
    {
        $query = array_filter(['group' => $group, 'limit' => $limit], fn ($v) => $v !== null);
        return $this->json(fn () => $this->request()->get('/api/v1/history', $query));
    }

    /**
     * GET /api/v1/alerts (docs/api.md §11): one page of alerts, newest first. Filters: $since (a
     * date or date-time, or 'YYYY-MM-DD'), $kind, $group (['category' => 'Shoes']; [] for the total's),
     * $limit (1-1000; the service's default 100), $cursor (the previous page's nextCursor).
     *
     * @throws ApiException a filter the service refuses is invalid_request naming it (422)
     */
    public function alerts(
        \DateTimeInterface|string|null $since = null,
        AlertKind|string|null $kind = null,
        ?array $group = null,
        ?int $limit = null,
        ?string $cursor = null,
    ): AlertPage {
        return AlertPage::fromArray($this->json(fn () => $this->request()->get('/api/v1/alerts', self::alertQuery($since, $kind, $group, $limit, $cursor))));
    }

    /** Every alert matching the filters, page after page of $pageSize, fetched as the collection is walked. */
    public function allAlerts(
        \DateTimeInterface|string|null $since = null,
        AlertKind|string|null $kind = null,
        ?array $group = null,
        int $pageSize = 100,
    ): LazyCollection {
        return LazyCollection::make(function () use ($since, $kind, $group, $pageSize) {
            $cursor = null;
            $seen = [];
            do {
                $page = $this->alerts($since, $kind, $group, $pageSize, $cursor);
                foreach ($page->alerts as $alert) {
                    yield $alert;  // numbered across pages (yield from would repeat each page's keys)
                }
                $cursor = $page->nextCursor;
                if ($cursor !== null && isset($seen[$cursor])) {
                    throw new ApiException('upstream_invalid', 'the alert pages loop back on themselves', 200);
                }
                $seen[(string) $cursor] = true;
            } while ($cursor !== null);
        });
    }

    /** The query string of GET /api/v1/alerts. */
    public static function alertQuery(
        \DateTimeInterface|string|null $since = null,
        AlertKind|string|null $kind = null,
        ?array $group = null,
        ?int $limit = null,
        ?string $cursor = null,
    ): array {
        return array_filter([
            'since' => $since instanceof \DateTimeInterface ? $since->format(DATE_ATOM) : $since,
            'kind' => $kind instanceof AlertKind ? $kind->value : $kind,
            'group' => $group === null ? null : json_encode((object) $group, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR),
            'limit' => $limit,
            'cursor' => $cursor,
        ], fn ($v) => $v !== null);
    }

    private function request(string $accept = 'application/json', ?float $timeout = null, bool $retry = true): PendingRequest
    {
        $request = ($this->http)()->baseUrl(rtrim($this->baseUrl, '/'))
            ->accept($accept)
            ->timeout((int) ceil($timeout ?? $this->timeout));
        // connectTimeout() is Laravel 9+; the Guzzle option is the same on every version.
        $request = method_exists($request, 'connectTimeout')
            ? $request->connectTimeout((int) ceil($this->connectTimeout))
            : $request->withOptions(['connect_timeout' => $this->connectTimeout]);
        if ($retry && $this->retries > 0) {
            // The fourth argument (Laravel 9+: throw when retries are spent) is false so an error
            // answer is read as the service's error document; Laravel 8 ignores it.
            $request = $request->retry($this->retries + 1, $this->retryDelayMs, fn ($e) => $e instanceof ConnectionException
                || ($e instanceof RequestException && in_array($e->response->status(), [429, 502, 503, 504], true)), false);
        }
        return $this->apiKey ? $request->withToken($this->apiKey) : $request;
    }

    /** @param callable(): Response $send */
    private function json(callable $send): array
    {
        $response = $this->send($send);
        $body = $response->json();
        if ($response->successful() && is_array($body)) {
            return $body;
        }
        $this->fail($response);
    }

    /** @param callable(): Response $send */
    private function send(callable $send): Response
    {
        try {
            return $send();
        } catch (RequestException $e) {  // an error answer after retries (Laravel 8 throws it): read it as any
            return $e->response;
        } catch (ConnectionException | TransferException $e) {  // Guzzle's own: a transfer cut short
            throw new ApiException('unreachable', 'the forecast web API did not answer: ' . $e->getMessage(), 0);
        }
    }

    /** The service's error document as ApiException (its stable code), or internal_error for anything else. */
    private function fail(Response $response): never
    {
        $body = $response->json();
        $error = is_array($body) ? ($body['error'] ?? null) : null;
        if (is_array($error) && isset($error['code'])) {
            throw new ApiException((string) $error['code'], (string) ($error['message'] ?? ''), $response->status(), $error['field'] ?? null);
        }
        throw new ApiException('internal_error', 'unexpected answer: ' . substr($response->body(), 0, 160), $response->status());
    }
}
