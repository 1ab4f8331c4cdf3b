<?php

namespace App\Listeners;

use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Events\ForecastAlertRaised;

class RecordForecastAlert
{
    public function handle(ForecastAlertRaised $event): void
    {
        // docs: alert listener
        $alert = $event->alert;                          // SalesForecast\Laravel\Alert
        if ($alert->kind === AlertKind::BelowRange) {
            $what = $alert->isTotal() ? 'the shop' : json_encode($alert->series);   // ['product_id' => '17']
            logger()->warning("{$what} sold {$alert->actual} in {$alert->period}, under {$alert->low} ({$alert->level}% range)");
        }
        // A delivery may be retried: $event->webhookId is the alert's id, the same on every attempt.
        // end docs

        // The tests count how many times each alert reached the listener.
        @mkdir(storage_path('app/alerts'), 0777, true);
        file_put_contents(storage_path("app/alerts/{$alert->id}.jsonl"),
            json_encode(['webhook_id' => $event->webhookId, 'alert' => $alert->toArray(), 'class' => get_class($alert)]) . "\n", FILE_APPEND | LOCK_EX);
    }
}
