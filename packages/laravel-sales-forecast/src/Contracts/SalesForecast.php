<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Contracts;

use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\ForecastResult;

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
}
