<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Contracts;

use SalesForecast\Laravel\AlertPage;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\SuggestedOrder;
use Illuminate\Support\Collection;

/**
 * What the SalesForecast facade stands for, bound in the container: type-hint it to have it
 * injected, and swap it in tests (SalesForecast::fake(), $this->mock(SalesForecast::class)).
 */
interface SalesForecast
{
    /**
     * Queue a forecast through Redis; returns its task id. The request is checked first; inside a
     * database transaction the message is pushed when it commits ($afterCommit, default
     * sales-forecast.after_commit; false: at once).
     *
     * @throws \SalesForecast\Laravel\Exceptions\SalesForecastException
     */
    public function dispatch(ForecastRequest|array $request = [], ?string $taskId = null, ?bool $afterCommit = null): string;

    /** The job's stored result, or null while it has none (queued, unknown, expired). */
    public function result(string $taskId): ?ForecastResult;

    /**
     * Poll until the job is finished.
     *
     * @throws \SalesForecast\Laravel\Exceptions\ForecastTimeout after $timeout seconds
     */
    public function wait(string $taskId, float $timeout = 60.0): ForecastResult;

    /** The web API client (Laravel's Http: Http::fake() applies). */
    public function api(): ForecastClient;

    /**
     * One page of the service's alerts, newest first (GET /api/v1/alerts through the web API; see
     * ForecastClient::alerts()). The fake answers from its canned alerts.
     *
     * @throws \SalesForecast\Laravel\Exceptions\ApiException
     */
    public function alerts(
        \DateTimeInterface|string|null $since = null,
        AlertKind|string|null $kind = null,
        ?array $group = null,
        ?int $limit = null,
        ?string $cursor = null,
    ): AlertPage;

    /**
     * A finished grouped job's suggested orders, one per product (docs/api.md §12, through the web
     * API; see ForecastClient::suggestedOrders()). The fake answers from its canned rows.
     *
     * @return Collection<int, SuggestedOrder>
     * @throws \SalesForecast\Laravel\Exceptions\ForecastNotFinished while the job runs
     * @throws \SalesForecast\Laravel\Exceptions\ForecastJobFailed when it failed or was cancelled
     * @throws \SalesForecast\Laravel\Exceptions\ApiException not_found: unknown, not grouped, no inventory
     */
    public function suggestedOrders(string $taskId, ?int $limit = null, string $sort = 'key'): Collection;
}
