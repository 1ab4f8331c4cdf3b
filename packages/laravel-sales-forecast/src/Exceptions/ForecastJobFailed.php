<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use RuntimeException;
use SalesForecast\Laravel\ForecastError;

/**
 * The job ended without a result (FAILURE, or REVOKED: cancelled), so it has nothing to read:
 * $error is why, with the service's stable code (insufficient_history, upstream_unavailable,
 * cancelled...), which errorCode() returns too.
 */
final class ForecastJobFailed extends RuntimeException implements SalesForecastException
{
    public function __construct(public readonly string $taskId, public readonly string $state, public readonly ForecastError $error)
    {
        parent::__construct("{$error->code}: forecast $taskId ended $state: {$error->message}");
    }

    public function errorCode(): string
    {
        return $this->error->code;
    }
}
