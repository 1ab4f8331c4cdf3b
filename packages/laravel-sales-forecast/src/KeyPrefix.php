<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Redis\Connections\Connection;
use Illuminate\Redis\Connections\PhpRedisConnection;
use Illuminate\Redis\Connections\PredisConnection;
use Redis;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;

/**
 * Checks that a Laravel Redis connection writes keys exactly as named. Laravel prefixes every key
 * with database.redis.options.prefix (by default "<app name>_database_"): a message pushed through
 * such a connection lands on "<prefix>forecasts", a list no worker reads, and the result is looked
 * for under "<prefix>celery-task-meta-<id>", which no worker writes. The job silently never runs.
 */
final class KeyPrefix
{
    /** The prefix this connection puts before every key ('' when none). */
    public static function of(Connection $connection): string
    {
        $client = $connection->client();
        if ($connection instanceof PhpRedisConnection || $client instanceof Redis) {
            $prefix = $client->getOption(Redis::OPT_PREFIX);
            return is_string($prefix) ? $prefix : '';
        }
        if ($connection instanceof PredisConnection || $client instanceof \Predis\ClientInterface) {
            $processor = $client->getOptions()->prefix;  // a KeyPrefixProcessor, or null
            return $processor !== null && method_exists($processor, 'getPrefix') ? (string) $processor->getPrefix() : '';
        }
        return '';
    }

    /** @throws MisconfiguredConnection when the workers would not see what this connection writes */
    public static function assertNone(Connection $connection, string $name, string $queue): void
    {
        $prefix = self::of($connection);
        if ($prefix !== '') {
            throw new MisconfiguredConnection(sprintf(
                "Redis connection [%s] prefixes every key with '%s': forecasts would be pushed onto '%s%s', "
                . "a list no forecast worker reads, and never run. Fix: unset SALES_FORECAST_REDIS_CONNECTION "
                . "(the package's own connection, from SALES_FORECAST_REDIS_URL, has no prefix), or give this "
                . "connection its own options in config/database.php, 'options' => ['prefix' => ''] (docs/laravel.md, \"The key prefix\").",
                $name, $prefix, $prefix, $queue,
            ));
        }
        $client = $connection->client();
        if ($client instanceof Redis) {
            if ($client->getOption(Redis::OPT_SERIALIZER) !== Redis::SERIALIZER_NONE) {
                throw new MisconfiguredConnection(sprintf(
                    "Redis connection [%s] serializes values, so the workers could not read the message. "
                    . "Fix: remove its 'serializer' option in config/database.php.", $name,
                ));
            }
            if (defined('Redis::OPT_COMPRESSION') && $client->getOption(Redis::OPT_COMPRESSION) !== Redis::COMPRESSION_NONE) {
                throw new MisconfiguredConnection(sprintf(
                    "Redis connection [%s] compresses values, so the workers could not read the message. "
                    . "Fix: remove its 'compression' option in config/database.php.", $name,
                ));
            }
        }
    }
}
