<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Redis\Connections\Connection;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;

/**
 * Queues `forecast.sales` jobs through a Redis connection (phpredis or predis, through
 * Illuminate\Redis) and reads their results: a Celery protocol-2 message LPUSHed onto the
 * forecast queue, the outcome read from `celery-task-meta-<id>`. docs/laravel.md describes every
 * field written and read here. A Redis that does not answer is Exceptions\RedisUnavailable.
 */
final class ForecastDispatcher
{
    public const TASK = 'forecast.sales';
    /** The workers refuse (dead-letter) any message larger than this; we refuse to send one. */
    public const MAX_MESSAGE_BYTES = 1048576;

    /** @throws Exceptions\MisconfiguredConnection when the connection would hide messages from the workers */
    public function __construct(
        private Connection $redis,
        private string $queue = 'forecasts',
        private string $connectionName = 'sales-forecast',
    ) {
        if ($queue === '') {
            throw new Exceptions\MisconfiguredConnection("the queue name must not be empty (sales-forecast.redis.queue)");
        }
        $this->guard(fn () => KeyPrefix::assertNone($redis, $connectionName, $queue));
    }

    /**
     * Queue a forecast; returns its task id. The request is checked first, with the service's
     * rules (ForecastRequest): one it would refuse throws InvalidForecastRequest and is not sent.
     *
     * @throws InvalidForecastRequest|RedisUnavailable
     */
    public function dispatch(ForecastRequest|array $request = [], ?string $taskId = null): string
    {
        $taskId ??= self::uuid4();
        $message = $this->message($request, $taskId);
        $this->guard(fn () => $this->redis->command('lpush', [$this->queue, $message]));
        return $taskId;
    }

    /** The message dispatch() pushes, as the JSON string the worker reads. */
    public function message(ForecastRequest|array $request, string $taskId): string
    {
        $kwargs = ForecastRequest::from($request)->toArray();
        $kwargsJson = json_encode((object) $kwargs, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
        // The body: [positional args, keyword args, embed]; this task takes keyword args only.
        $body = '[[],' . $kwargsJson . ',{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]';
        $envelope = [
            'body' => base64_encode($body),
            'content-encoding' => 'utf-8',
            'content-type' => 'application/json',
            'headers' => [
                'lang' => 'py',
                'task' => self::TASK,
                'id' => $taskId,
                'shadow' => null,
                'eta' => null,
                'expires' => null,
                'group' => null,
                'group_index' => null,
                'retries' => 0,
                'timelimit' => [null, null],
                'root_id' => $taskId,
                'parent_id' => null,
                'argsrepr' => '()',
                'kwargsrepr' => strlen($kwargsJson) > 1024 ? substr($kwargsJson, 0, 1021) . '...' : $kwargsJson,
                'origin' => sprintf('php:%d@%s', getmypid(), gethostname() ?: 'localhost'),
                'ignore_result' => false,
                'replaced_task_nesting' => 0,
                'stamped_headers' => null,
                'stamps' => (object) [],
            ],
            'properties' => [
                'correlation_id' => $taskId,
                'reply_to' => '',
                'delivery_mode' => 2,
                'delivery_info' => ['exchange' => '', 'routing_key' => $this->queue],
                'priority' => 0,
                'body_encoding' => 'base64',
                'delivery_tag' => self::uuid4(),
            ],
        ];
        $json = json_encode($envelope, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        if (strlen($json) > self::MAX_MESSAGE_BYTES) {
            throw new InvalidForecastRequest(null, 'the message is over 1 MB: the workers would refuse it');
        }
        return $json;
    }

    /** The job's stored result, or null while it has none (queued, unknown, or expired after RESULT_TTL_SECONDS). */
    public function result(string $taskId): ?ForecastResult
    {
        $raw = $this->guard(fn () => $this->redis->command('get', ['celery-task-meta-' . $taskId]));
        if (!is_string($raw) || $raw === '') {  // phpredis answers false, predis null
            return null;
        }
        $meta = json_decode($raw, true);
        return is_array($meta) ? new ForecastResult($taskId, $meta) : null;
    }

    /**
     * Poll until the job is SUCCESS, FAILURE or REVOKED.
     *
     * @throws ForecastTimeout when $timeout seconds pass first (the job may still finish later)
     */
    public function wait(string $taskId, float $timeout = 60.0, float $interval = 0.25): ForecastResult
    {
        return Poll::until(fn () => $this->result($taskId), $taskId, $timeout, $interval);
    }

    public function queue(): string
    {
        return $this->queue;
    }

    /** The Laravel Redis connection messages go through. */
    public function connection(): Connection
    {
        return $this->redis;
    }

    /** How many messages wait on the queue, and how many the workers refused (<queue>.dead). */
    public function lengths(): array
    {
        return $this->guard(fn () => [
            'queue' => (int) $this->redis->command('llen', [$this->queue]),
            'dead' => (int) $this->redis->command('llen', [$this->queue . '.dead']),
        ]);
    }

    /**
     * @template T
     * @param callable(): T $call
     * @return T
     */
    private function guard(callable $call): mixed
    {
        try {
            return $call();
        } catch (\RedisException | \Predis\CommunicationException $e) {  // refused, timed out, dropped
            throw new RedisUnavailable($this->connectionName, $e);
        } catch (\Predis\Response\ServerException $e) {
            if ($this->throughSentinel()) {  // predis' sentinels named no master: no Redis to talk to
                throw new RedisUnavailable($this->connectionName, $e);
            }
            throw $e;
        }
    }

    private function throughSentinel(): bool
    {
        $client = $this->redis->client();
        $connection = $client instanceof \Predis\ClientInterface ? $client->getConnection() : null;
        return $connection instanceof \Predis\Connection\Aggregate\SentinelReplication      // predis 1
            || $connection instanceof \Predis\Connection\Replication\SentinelReplication;   // predis 2
    }

    public static function newTaskId(): string
    {
        return self::uuid4();
    }

    private static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr(ord($bytes[6]) & 0x0f | 0x40);
        $bytes[8] = chr(ord($bytes[8]) & 0x3f | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }
}
