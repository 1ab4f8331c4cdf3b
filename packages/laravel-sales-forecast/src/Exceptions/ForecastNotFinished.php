<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use RuntimeException;

/**
 * The job has not finished yet (PENDING, STARTED, PROGRESS, RETRY): what only a finished job has
 * (its series, its suggested orders) cannot be read. The service's 409 not_finished; ask again
 * after $retryAfter seconds, or wait() for the job first.
 */
final class ForecastNotFinished extends RuntimeException implements SalesForecastException
{
    public function __construct(public readonly string $taskId, public readonly string $state, public readonly int $retryAfter = 1)
    {
        parent::__construct("not_finished: forecast $taskId has not finished (it is $state); ask again once it is SUCCESS", 409);
    }

    public function errorCode(): string
    {
        return 'not_finished';
    }
}
