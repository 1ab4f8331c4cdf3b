<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Contracts\Config\Repository as Config;
use Illuminate\Http\Client\Factory as HttpFactory;
use Illuminate\Redis\RedisManager;
use InvalidArgumentException;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;

/**
 * What the SalesForecast facade calls: dispatch through Redis, read results, and the web API.
 * The Redis connection is resolved (and checked) on first use, not at boot, so an app whose
 * forecast Redis is down still boots.
 */
final class SalesForecast
{
    private ?ForecastDispatcher $dispatcher = null;
    private ?ForecastClient $api = null;

    public function __construct(private Config $config, private RedisManager $redis, private HttpFactory $http)
    {
    }

    /** Queue a forecast through Redis; returns the task id. */
    public function dispatch(array $kwargs = [], ?string $taskId = null): string
    {
        return $this->dispatcher()->dispatch($kwargs, $taskId);
    }

    /** The job's stored result, or null while it has none. */
    public function result(string $taskId): ?ForecastResult
    {
        return $this->dispatcher()->result($taskId);
    }

    /** Poll until the job is finished; throws ForecastTimeout after $timeout seconds. */
    public function wait(string $taskId, float $timeout = 60.0): ForecastResult
    {
        return $this->dispatcher()->wait($taskId, $timeout);
    }

    /** The dispatcher on the configured connection (sales-forecast.redis.connection). */
    public function dispatcher(?string $connection = null): ForecastDispatcher
    {
        if ($connection === null && $this->dispatcher !== null) {
            return $this->dispatcher;
        }
        $name = $connection ?? (string) $this->config->get('sales-forecast.redis.connection', 'sales-forecast');
        try {
            $redis = $this->redis->connection($name);
        } catch (InvalidArgumentException $e) {
            throw new MisconfiguredConnection(sprintf(
                "Redis connection [%s] is not configured. Fix: add it to the 'redis' block of config/database.php "
                . "with 'options' => ['prefix' => ''], or set SALES_FORECAST_REDIS_CONNECTION to an existing "
                . "connection without a key prefix (docs/laravel.md).", $name,
            ), 0, $e);
        }
        $dispatcher = new ForecastDispatcher($redis, (string) $this->config->get('sales-forecast.redis.queue', 'forecasts'), $name);
        if ($connection === null) {
            $this->dispatcher = $dispatcher;
        }
        return $dispatcher;
    }

    /** The web API client (sales-forecast.api.url and .key). */
    public function api(): ForecastClient
    {
        return $this->api ??= new ForecastClient(
            $this->http,
            (string) $this->config->get('sales-forecast.api.url'),
            $this->config->get('sales-forecast.api.key') ?: null,
            (float) $this->config->get('sales-forecast.api.timeout', 10),
        );
    }
}
