<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use SalesForecast\Laravel\Contracts\SalesForecast;
use SalesForecast\Laravel\ForecastDispatcher;
use SalesForecast\Laravel\ForecastRequest;

/**
 * Dispatch a forecast from the app's own queue, retried with back-off while the forecast
 * service's Redis is unreachable (RedisUnavailable is thrown, the queue retries it). The task id
 * is chosen now, so the caller knows it before the job runs:
 *
 *     $job = new DispatchForecast(ForecastRequest::make()->horizon(6));
 *     dispatch($job);   // $job->taskId
 *
 * The request is checked here, when the job is made: an invalid one never reaches the queue.
 */
final class DispatchForecast implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;

    public int $tries = 6;
    public readonly string $taskId;
    /** @var array<string, mixed> */
    public readonly array $request;

    public function __construct(ForecastRequest|array $request = [], ?string $taskId = null)
    {
        $this->request = ForecastRequest::from($request)->toArray();
        $this->taskId = $taskId ?? ForecastDispatcher::newTaskId();
    }

    /** Seconds before each retry: about two minutes in all. */
    public function backoff(): array
    {
        return [1, 5, 10, 30, 60];
    }

    public function handle(SalesForecast $forecasts): void
    {
        // Already on the queue, after any transaction: push now. A retried job pushes the same
        // task id again only if the earlier attempt failed before the LPUSH.
        $forecasts->dispatch($this->request, $this->taskId, false);
    }
}
