<?php

namespace App\Listeners;

use SalesForecast\Laravel\Events\ForecastFinished;

class RecordFinishedForecast
{
    public function handle(ForecastFinished $event): void
    {
        // Deliveries are retried: the same webhook-id may arrive twice; writing by task id is idempotent.
        file_put_contents(
            storage_path("app/forecasts/{$event->taskId}.json"),
            json_encode(['status' => $event->status, 'forecast' => $event->result->forecast(), 'error' => $event->error]),
        );
    }
}
