<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Events;

use SalesForecast\Laravel\ForecastError;
use SalesForecast\Laravel\ForecastResult;

/** A verified completion webhook of a FAILURE or REVOKED job: $error->code says why. */
final class ForecastFailed
{
    public readonly ForecastError $error;

    public function __construct(public readonly string $webhookId, public readonly ForecastResult $result)
    {
        $this->error = $result->error() ?? new ForecastError('internal_error', 'the job failed unexpectedly');
    }
}
