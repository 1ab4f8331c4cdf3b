<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use Throwable;

/**
 * Every exception this package throws implements this: catch it to handle them all. Each carries
 * the service's stable error code (invalid_request, unauthorized, broker_unavailable, timeout...).
 */
interface SalesForecastException extends Throwable
{
    /** The stable machine code, as the service's error documents name it. */
    public function errorCode(): string;
}
