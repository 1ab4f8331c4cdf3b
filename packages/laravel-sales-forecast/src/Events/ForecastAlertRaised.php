<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Events;

use SalesForecast\Laravel\Alert;

/**
 * A verified `forecast.alert` webhook (docs/api.md §11): the service raised $alert. Deliveries are
 * retried, so the same alert may arrive twice: $webhookId is the alert's id, stable across retries.
 */
final class ForecastAlertRaised
{
    public function __construct(public readonly string $webhookId, public readonly Alert $alert, public readonly array $payload)
    {
    }
}
