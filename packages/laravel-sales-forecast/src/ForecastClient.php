<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Http\Client\ConnectionException;
use Illuminate\Http\Client\Factory;
use Illuminate\Http\Client\PendingRequest;
use Illuminate\Http\Client\Response;
use Illuminate\Support\LazyCollection;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;

/**
 * The forecast web API (CONTRACT §4, §8, §9) through Laravel's Http client, so Http::fake() and
 * the app's HTTP middleware apply. Errors become ApiException with the service's stable code.
 */
final class ForecastClient
{
    public function __construct(
        private Factory $http,
        private string $baseUrl,
        private ?string $apiKey = null,
        private float $timeout = 10.0,
    ) {
    }

    /** POST /api/v1/forecasts: ['task_id', 'status' => 'PENDING', 'status_url']. */
    public function submit(array $body = [], ?string $idempotencyKey = null): array
    {
        $request = $this->request();
        if ($idempotencyKey !== null) {
            $request = $request->withHeaders(['Idempotency-Key' => $idempotencyKey]);
        }
        // A JSON object even when empty ({} runs the default forecast; [] would be refused).
        $json = json_encode((object) $body, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
        return $this->json(fn () => $request->withBody($json, 'application/json')->post('/api/v1/forecasts'));
    }

    /** GET /api/v1/forecasts/{id}: task_id, status, progress, submitted_at, finished_at, result, error. */
    public function status(string $taskId): array
    {
        return $this->json(fn () => $this->request()->get('/api/v1/forecasts/' . rawurlencode($taskId)));
    }

    /**
     * Poll status() until SUCCESS, FAILURE or REVOKED; returns that status document.
     *
     * @throws ForecastTimeout when $timeout seconds pass first (the job may still finish later)
     */
    public function wait(string $taskId, float $timeout = 60.0, float $interval = 0.5): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $status = $this->status($taskId);
            if (in_array($status['status'] ?? null, ForecastResult::FINAL_STATES, true)) {
                return $status;
            }
            if (microtime(true) >= $deadline) {
                throw new ForecastTimeout($taskId, $timeout, (string) ($status['status'] ?? 'PENDING'));
            }
            usleep((int) (max(0.05, $interval) * 1e6));
        }
    }

    /** DELETE /api/v1/forecasts/{id}: cancel a job that has not finished. */
    public function cancel(string $taskId): array
    {
        return $this->json(fn () => $this->request()->delete('/api/v1/forecasts/' . rawurlencode($taskId)));
    }

    /** One page of a grouped job's series: ['series' => [...], 'next_cursor' => string|null]. */
    public function seriesPage(string $taskId, ?int $level = null, int $limit = 100, ?string $cursor = null, ?string $q = null): array
    {
        $query = array_filter(['level' => $level, 'limit' => $limit, 'cursor' => $cursor, 'q' => $q], fn ($v) => $v !== null);
        return $this->json(fn () => $this->request()->get('/api/v1/forecasts/' . rawurlencode($taskId) . '/series', $query));
    }

    /** Every series of a level, page after page, fetched as the collection is walked. */
    public function series(string $taskId, ?int $level = null, ?string $q = null, int $pageSize = 100): LazyCollection
    {
        return LazyCollection::make(function () use ($taskId, $level, $q, $pageSize) {
            $cursor = null;
            $seen = [];
            do {
                $page = $this->seriesPage($taskId, $level, $pageSize, $cursor, $q);
                yield from $page['series'] ?? [];
                $cursor = $page['next_cursor'] ?? null;
                if ($cursor !== null && isset($seen[$cursor])) {
                    throw new ApiException('upstream_invalid', 'the series pages loop back on themselves', 200);
                }
                $seen[(string) $cursor] = true;
            } while ($cursor !== null);
        });
    }

    /** GET /api/v1/history: past forecasts, newest first (['forecasts' => [...]]). */
    public function history(?string $group = null, ?int $limit = null): array
    {
        $query = array_filter(['group' => $group, 'limit' => $limit], fn ($v) => $v !== null);
        return $this->json(fn () => $this->request()->get('/api/v1/history', $query));
    }

    private function request(): PendingRequest
    {
        $request = $this->http->baseUrl(rtrim($this->baseUrl, '/'))
            ->acceptJson()
            ->timeout((int) ceil($this->timeout));
        return $this->apiKey ? $request->withToken($this->apiKey) : $request;
    }

    /** @param callable(): Response $send */
    private function json(callable $send): array
    {
        try {
            $response = $send();
        } catch (ConnectionException $e) {
            throw new ApiException('unreachable', 'the forecast web API did not answer: ' . $e->getMessage(), 0);
        }
        $body = $response->json();
        if ($response->successful() && is_array($body)) {
            return $body;
        }
        $error = is_array($body) ? ($body['error'] ?? null) : null;
        if (is_array($error) && isset($error['code'])) {
            throw new ApiException((string) $error['code'], (string) ($error['message'] ?? ''), $response->status(), $error['field'] ?? null);
        }
        throw new ApiException('internal_error', 'unexpected answer: ' . substr($response->body(), 0, 160), $response->status());
    }
}
