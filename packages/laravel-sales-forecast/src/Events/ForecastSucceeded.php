<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Events;

use SalesForecast\Laravel\ForecastResult;

/** A verified completion webhook of a SUCCESS: $result->forecast(), hierarchy(), document(). */
final class ForecastSucceeded
{
    public function __construct(public readonly string $webhookId, public readonly ForecastResult $result)
    {
    }
}
