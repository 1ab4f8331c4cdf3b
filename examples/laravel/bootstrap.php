<?php
/**
 * The sales-forecast/laravel package's classes for a PHP script outside a Laravel application
 * (forecast.php here, or your own): the message builder, result reader and webhook check are the
 * package's, not copies. With Composer (`composer require sales-forecast/laravel`), its autoloader;
 * without it, Laravel's Illuminate components from Debian's php-laravel-framework (/usr/share/php)
 * and the package's classes from this checkout, as the package's own tests load them.
 *
 * forecast_connection($redis) wraps a phpredis client as the Laravel connection the package's
 * ForecastDispatcher takes.
 */

declare(strict_types=1);

use Illuminate\Redis\Connections\PhpRedisConnection;

if (is_file(__DIR__ . '/vendor/autoload.php')) {
    require_once __DIR__ . '/vendor/autoload.php';
}
if (!class_exists(PhpRedisConnection::class)) {
    if (!stream_resolve_include_path('Illuminate/autoload.php')) {
        fwrite(STDERR, "bootstrap.php: Laravel's Illuminate components are needed: composer require sales-forecast/laravel,"
            . " or apt-get install php-laravel-framework\n");
        exit(69);
    }
    require_once 'Illuminate/autoload.php';
}
if (!class_exists(\SalesForecast\Laravel\ForecastDispatcher::class)) {
    require_once __DIR__ . '/../../packages/laravel-sales-forecast/autoload.php';
}

/** A connected phpredis client as the Laravel Redis connection the package's dispatcher takes. */
function forecast_connection(Redis $redis): PhpRedisConnection
{
    return new PhpRedisConnection($redis);
}
