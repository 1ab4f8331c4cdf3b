<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use RedisSentinel;
use ReflectionMethod;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;

/**
 * The package's own connection through Redis Sentinel (sales-forecast.redis.sentinels and
 * .sentinel_master), for each client: predis asks the sentinels itself (its 'sentinel'
 * replication); for phpredis the master's address is asked of the sentinels here, one after
 * another, when the connection is made. The password, username and database come from
 * sales-forecast.redis.url, as without Sentinel.
 */
final class Sentinel
{
    /**
     * The connection config for RedisManager.
     *
     * @param list<string> $sentinels "host:port" each
     * @throws RedisUnavailable when no sentinel names a master (phpredis)
     */
    public static function connection(string $client, array $sentinels, string $master, string $url): array
    {
        $auth = self::auth($url);
        if ($client === 'predis') {
            $config = array_map(fn (string $s) => 'tcp://' . $s, $sentinels);
            $config['options'] = ['replication' => 'sentinel', 'service' => $master, 'parameters' => $auth, 'prefix' => ''];
            return $config;
        }
        $last = null;
        foreach ($sentinels as $sentinel) {
            [$host, $port] = self::hostPort($sentinel);
            try {
                $address = self::client($host, $port)->getMasterAddrByName($master);
            } catch (\RedisException $e) {
                $last = $e;
                continue;
            }
            if (is_array($address) && count($address) === 2) {
                return ['host' => $address[0], 'port' => (int) $address[1], 'options' => ['prefix' => '']] + $auth;
            }
        }
        throw new RedisUnavailable('sales-forecast', $last ?? new \RuntimeException(sprintf(
            "no sentinel of %s knows a master named '%s' (SALES_FORECAST_REDIS_SENTINEL_MASTER)", implode(', ', $sentinels), $master,
        )));
    }

    /** @return list<string> "host:port" each, from "a:26379,b:26379" or a list */
    public static function parse(mixed $sentinels): array
    {
        $list = is_array($sentinels) ? $sentinels : explode(',', (string) $sentinels);
        return array_values(array_filter(array_map(fn ($s) => trim((string) $s), $list), fn ($s) => $s !== ''));
    }

    private static function client(string $host, int $port): RedisSentinel
    {
        if (!class_exists(RedisSentinel::class)) {
            throw new MisconfiguredConnection('Redis Sentinel with phpredis needs phpredis 5.2 or newer (RedisSentinel)');
        }
        // phpredis 6 takes an array of options; 5.x positional arguments.
        $first = (new ReflectionMethod(RedisSentinel::class, '__construct'))->getParameters()[0] ?? null;
        return $first !== null && $first->getName() === 'options'
            ? new RedisSentinel(['host' => $host, 'port' => $port, 'connectTimeout' => 2.0])
            : new RedisSentinel($host, $port, 2.0);
    }

    /** @return array{0: string, 1: int} */
    private static function hostPort(string $sentinel): array
    {
        $at = strrpos($sentinel, ':');
        return $at === false ? [$sentinel, 26379] : [substr($sentinel, 0, $at), (int) substr($sentinel, $at + 1)];
    }

    /** password, username and database of the URL (its host and port are the sentinels' to give). */
    private static function auth(string $url): array
    {
        $parts = parse_url($url) ?: [];
        return array_filter([
            'username' => isset($parts['user']) && $parts['user'] !== '' ? rawurldecode($parts['user']) : null,
            'password' => isset($parts['pass']) ? rawurldecode($parts['pass']) : null,
            'database' => isset($parts['path']) && trim($parts['path'], '/') !== '' ? (int) trim($parts['path'], '/') : 0,
        ], fn ($v) => $v !== null);
    }
}
