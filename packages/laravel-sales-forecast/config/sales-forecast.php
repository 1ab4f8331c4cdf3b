<?php

// The forecast service, as this application reaches it. Published to config/sales-forecast.php by
// `php artisan vendor:publish --tag=sales-forecast-config`. env() is read here and only here, so
// `php artisan config:cache` keeps every value.

return [

    // Dispatching through Redis (CONTRACT §6): the name of a connection in config/database.php's
    // 'redis' block that reaches the service's Redis (its REDIS_URL) WITHOUT a key prefix, and the
    // list the workers consume (the service's FORECAST_QUEUE).
    'redis' => [
        'connection' => env('SALES_FORECAST_REDIS_CONNECTION', 'sales-forecast'),
        'queue' => env('SALES_FORECAST_QUEUE', 'forecasts'),
    ],

    // The web API (POST /api/v1/forecasts...): its base URL and one of the service's API_KEYS.
    'api' => [
        'url' => env('SALES_FORECAST_API_URL', 'http://127.0.0.1:8000'),
        'key' => env('SALES_FORECAST_API_KEY'),
        'timeout' => (float) env('SALES_FORECAST_API_TIMEOUT', 10),
    ],

    // Completion webhooks: the service's WEBHOOK_SECRET, and the path of the route this package
    // registers to receive them (null: no route; attach the middleware to your own).
    'webhook' => [
        'secret' => env('SALES_FORECAST_WEBHOOK_SECRET'),
        'path' => env('SALES_FORECAST_WEBHOOK_PATH', 'sales-forecast/webhook'),
        'tolerance' => (int) env('SALES_FORECAST_WEBHOOK_TOLERANCE', 300),
    ],

];
