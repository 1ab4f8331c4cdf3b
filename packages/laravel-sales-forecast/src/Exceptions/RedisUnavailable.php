<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use RuntimeException;
use Throwable;

/**
 * The forecast service's Redis did not answer (refused, timed out, dropped): phpredis'
 * RedisException or predis' errors, wrapped. Nothing was queued; retry later (Jobs\DispatchForecast does).
 */
final class RedisUnavailable extends RuntimeException implements SalesForecastException
{
    public function __construct(public readonly string $connection, Throwable $previous)
    {
        parent::__construct(sprintf("the forecast service's Redis (connection [%s]) is unavailable: %s", $connection, $previous->getMessage()), 0, $previous);
    }

    public function errorCode(): string
    {
        return 'broker_unavailable';
    }
}
