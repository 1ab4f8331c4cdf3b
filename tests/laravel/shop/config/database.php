<?php

use Illuminate\Support\Str;

return [
    'default' => env('DB_CONNECTION', 'sqlite'),

    'connections' => [
        'sqlite' => [
            'driver' => 'sqlite',
            'database' => env('DB_DATABASE', database_path('database.sqlite')),
            'prefix' => '',
            'foreign_key_constraints' => true,
        ],
    ],

    'migrations' => 'migrations',

    // Laravel 8's stock 'redis' block, plus the forecast service's connection.
    'redis' => [
        'client' => env('REDIS_CLIENT', 'phpredis'),

        'options' => [
            'cluster' => env('REDIS_CLUSTER', 'redis'),
            'prefix' => env('REDIS_PREFIX', Str::slug(env('APP_NAME', 'laravel'), '_').'_database_'),
        ],

        'default' => [
            'url' => env('REDIS_URL'),
            'host' => env('REDIS_HOST', '127.0.0.1'),
            'password' => env('REDIS_PASSWORD', null),
            'port' => env('REDIS_PORT', '6379'),
            'database' => env('REDIS_DB', '0'),
        ],

        'cache' => [
            'url' => env('REDIS_URL'),
            'host' => env('REDIS_HOST', '127.0.0.1'),
            'password' => env('REDIS_PASSWORD', null),
            'port' => env('REDIS_PORT', '6379'),
            'database' => env('REDIS_CACHE_DB', '1'),
        ],

        // The forecast service's Redis (its REDIS_URL), without a key prefix.
        'sales-forecast' => [
            'url' => env('SALES_FORECAST_REDIS_URL'),
            'host' => env('SALES_FORECAST_REDIS_HOST', '127.0.0.1'),
            'username' => env('SALES_FORECAST_REDIS_USERNAME'),
            'password' => env('SALES_FORECAST_REDIS_PASSWORD'),
            'port' => env('SALES_FORECAST_REDIS_PORT', '6379'),
            'database' => env('SALES_FORECAST_REDIS_DB', '0'),
            'options' => ['prefix' => ''],
        ],

        // For the tests: a connection that serializes values, which the package refuses.
        'serialized' => [
            'host' => env('SALES_FORECAST_REDIS_HOST', '127.0.0.1'),
            'port' => env('SALES_FORECAST_REDIS_PORT', '6379'),
            'options' => ['prefix' => '', 'serializer' => 1],  // Redis::SERIALIZER_PHP
        ],
    ],
];
