<?php

// The forecast service, as this application reaches it. Published to config/sales-forecast.php by
// `php artisan vendor:publish --tag=sales-forecast-config`. env() is read here and only here, so
// `php artisan config:cache` keeps every value.

return [

    // Dispatching through Redis: the service's Redis (its REDIS_URL) and the list its workers
    // consume (its FORECAST_QUEUE). The package makes its own connection from the URL, without a
    // key prefix, on the app's Redis client (REDIS_CLIENT: phpredis or predis): config/database.php
    // needs no edit. To use one of the app's connections instead, name it (it must have no prefix).
    // With Redis Sentinel, list the sentinels ("host:port,host:port") and the master's name: the
    // master's address is asked of them; the URL then gives only the password and database.
    'redis' => [
        'url' => env('SALES_FORECAST_REDIS_URL', 'redis://127.0.0.1:6379/0'),
        'sentinels' => env('SALES_FORECAST_REDIS_SENTINELS'),
        'sentinel_master' => env('SALES_FORECAST_REDIS_SENTINEL_MASTER', 'mymaster'),
        'connection' => env('SALES_FORECAST_REDIS_CONNECTION'),
        'queue' => env('SALES_FORECAST_QUEUE', 'forecasts'),
    ],

    // Inside a database transaction, dispatch() pushes when the transaction commits (and not at
    // all if it rolls back), so the workers never read sales the transaction has not written.
    'after_commit' => (bool) env('SALES_FORECAST_AFTER_COMMIT', true),

    // The web API (POST /api/v1/forecasts...): its base URL and one of the service's API_KEYS.
    // Reads (and submissions with an idempotency key) are retried on connection errors, 429 and
    // 502-504, `retries` times, `retry_delay` ms apart.
    'api' => [
        'url' => env('SALES_FORECAST_API_URL', 'http://127.0.0.1:8000'),
        'key' => env('SALES_FORECAST_API_KEY'),
        'timeout' => (float) env('SALES_FORECAST_API_TIMEOUT', 10),
        'connect_timeout' => (float) env('SALES_FORECAST_API_CONNECT_TIMEOUT', 5),
        'retries' => (int) env('SALES_FORECAST_API_RETRIES', 2),
        'retry_delay' => (int) env('SALES_FORECAST_API_RETRY_DELAY', 200),
    ],

    // Completion webhooks: the service's WEBHOOK_SECRET, and the path of the route this package
    // registers to receive them (null: no route; attach the middleware to your own).
    'webhook' => [
        'secret' => env('SALES_FORECAST_WEBHOOK_SECRET'),
        'path' => env('SALES_FORECAST_WEBHOOK_PATH', 'sales-forecast/webhook'),
        'tolerance' => (int) env('SALES_FORECAST_WEBHOOK_TOLERANCE', 300),
    ],

];
