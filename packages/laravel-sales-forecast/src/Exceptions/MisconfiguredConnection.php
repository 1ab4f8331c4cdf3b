<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use LogicException;

/**
 * The Redis connection would hide messages from the workers (a key prefix, a serializer,
 * compression) or does not exist. The message says what to change.
 */
final class MisconfiguredConnection extends LogicException implements SalesForecastException
{
    public function errorCode(): string
    {
        return 'misconfigured';
    }
}
