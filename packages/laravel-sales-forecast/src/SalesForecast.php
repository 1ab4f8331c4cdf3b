<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Contracts\Config\Repository as Config;
use Illuminate\Contracts\Container\Container;
use Illuminate\Http\Client\Factory as HttpFactory;
use Illuminate\Redis\Connections\Connection;
use Illuminate\Redis\RedisManager;
use Illuminate\Support\Facades\Facade;
use InvalidArgumentException;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;

/**
 * What the SalesForecast facade calls (bound as Contracts\SalesForecast): dispatch through Redis,
 * read results, and the web API. The Redis connection is made (and checked) on first use, not at
 * boot, so an app whose forecast Redis is down still boots.
 *
 * The connection is the package's own, built from sales-forecast.redis.url without a key prefix
 * (as Horizon builds its own), unless sales-forecast.redis.connection names one of the app's.
 */
class SalesForecast implements Contracts\SalesForecast
{
    /** The name of the connection the package builds itself. */
    public const OWN_CONNECTION = 'sales-forecast';

    private ?ForecastDispatcher $dispatcher = null;
    private ?RedisManager $ownRedis = null;

    public function __construct(private Config $config, private RedisManager $redis, private Container $container)
    {
    }

    public function dispatch(ForecastRequest|array $request = [], ?string $taskId = null, ?bool $afterCommit = null): string
    {
        $request = ForecastRequest::from($request);  // refused here, before any transaction or Redis
        $dispatcher = $this->reconnecting(fn () => $this->dispatcher());
        $taskId ??= ForecastDispatcher::newTaskId();
        $afterCommit ??= (bool) $this->config->get('sales-forecast.after_commit', true);
        $transactions = $afterCommit && $this->container->bound('db.transactions') ? $this->container->make('db.transactions') : null;
        if ($transactions !== null && $this->inTransaction()) {
            // Pushed when the outermost transaction commits, dropped if it rolls back: a worker
            // never reads sales the transaction has not written yet.
            $transactions->addCallback(fn () => $dispatcher->dispatch($request, $taskId));
            return $taskId;
        }
        return $this->reconnecting(fn () => $dispatcher->dispatch($request, $taskId));
    }

    public function result(string $taskId): ?ForecastResult
    {
        return $this->reconnecting(fn () => $this->dispatcher()->result($taskId));
    }

    public function wait(string $taskId, float $timeout = 60.0): ForecastResult
    {
        return $this->reconnecting(fn () => $this->dispatcher()->wait($taskId, $timeout));
    }

    /**
     * After an outage, forget the connection, so that a long-running process (a queue worker)
     * connects again on its next call, to the master Sentinel then names.
     *
     * @template T
     * @param callable(): T $call
     * @return T
     */
    private function reconnecting(callable $call): mixed
    {
        try {
            return $call();
        } catch (RedisUnavailable $e) {
            $this->dispatcher = null;
            $this->ownRedis = null;
            throw $e;
        }
    }

    /** The dispatcher on the configured connection, or on the app's Redis connection $connection. */
    public function dispatcher(?string $connection = null): ForecastDispatcher
    {
        if ($connection === null && $this->dispatcher !== null) {
            return $this->dispatcher;
        }
        $name = $connection ?? $this->connectionName();
        $dispatcher = new ForecastDispatcher($this->connection($name), (string) $this->config->get('sales-forecast.redis.queue', 'forecasts'), $name);
        if ($connection === null) {
            $this->dispatcher = $dispatcher;
        }
        return $dispatcher;
    }

    /** The connection used when none is named: the app's sales-forecast.redis.connection, or the package's own. */
    public function connectionName(): string
    {
        $named = $this->config->get('sales-forecast.redis.connection');
        return is_string($named) && $named !== '' ? $named : self::OWN_CONNECTION;
    }

    /** The web API client (sales-forecast.api.*); the Http factory is resolved at each request. */
    public function api(): ForecastClient
    {
        return new ForecastClient(
            fn () => $this->httpFactory(),
            (string) $this->config->get('sales-forecast.api.url'),
            $this->config->get('sales-forecast.api.key') ?: null,
            (float) $this->config->get('sales-forecast.api.timeout', 10),
            (float) $this->config->get('sales-forecast.api.connect_timeout', 5),
            (int) $this->config->get('sales-forecast.api.retries', 2),
            (int) $this->config->get('sales-forecast.api.retry_delay', 200),
        );
    }

    public function alerts(
        \DateTimeInterface|string|null $since = null,
        Enums\AlertKind|string|null $kind = null,
        ?array $group = null,
        ?int $limit = null,
        ?string $cursor = null,
    ): AlertPage {
        return $this->api()->alerts($since, $kind, $group, $limit, $cursor);
    }

    /** Through the web API: ForecastClient::suggestedOrders() (docs/api.md §12). */
    public function suggestedOrders(string $taskId, ?int $limit = null, string $sort = 'key'): \Illuminate\Support\Collection
    {
        return $this->api()->suggestedOrders($taskId, $limit, $sort);
    }

    private function connection(string $name): Connection
    {
        try {
            if ($name === self::OWN_CONNECTION && !$this->config->get('sales-forecast.redis.connection')) {
                return $this->ownRedis()->connection($name);
            }
            return $this->redis->connection($name);
        } catch (InvalidArgumentException $e) {
            throw new MisconfiguredConnection(sprintf(
                "Redis connection [%s] is not configured. Fix: unset SALES_FORECAST_REDIS_CONNECTION to use the "
                . "package's own connection (SALES_FORECAST_REDIS_URL), or name a connection of config/database.php "
                . "that has no key prefix (docs/laravel.md).", $name,
            ), 0, $e);
        } catch (\RedisException | \Predis\CommunicationException $e) {  // phpredis connects here
            throw new RedisUnavailable($name, $e);
        }
    }

    /** A RedisManager of the package's one connection, on the app's client (REDIS_CLIENT), never prefixed. */
    private function ownRedis(): RedisManager
    {
        if ($this->ownRedis !== null) {
            return $this->ownRedis;
        }
        $client = (string) $this->config->get('database.redis.client', 'phpredis');
        $url = (string) ($this->config->get('sales-forecast.redis.url') ?: 'redis://127.0.0.1:6379/0');
        $sentinels = Sentinel::parse($this->config->get('sales-forecast.redis.sentinels'));
        $connection = $sentinels === []
            ? ['url' => $url, 'options' => ['prefix' => '']]
            : Sentinel::connection($client, $sentinels, (string) $this->config->get('sales-forecast.redis.sentinel_master', 'mymaster'), $url);
        return $this->ownRedis = new RedisManager($this->container, $client, [
            'options' => ['prefix' => ''],
            self::OWN_CONNECTION => $connection,
        ]);
    }

    private function inTransaction(): bool
    {
        if (!$this->container->bound('db')) {
            return false;
        }
        foreach ($this->container->make('db')->getConnections() as $connection) {
            if ($connection->transactionLevel() > 0) {
                return true;
            }
        }
        return false;
    }

    /** The factory Http::fake() swaps in (the facade's root), else the container's. */
    private function httpFactory(): HttpFactory
    {
        $factory = Facade::getFacadeApplication() !== null ? \Illuminate\Support\Facades\Http::getFacadeRoot() : null;
        return $factory instanceof HttpFactory ? $factory : $this->container->make(HttpFactory::class);
    }
}
