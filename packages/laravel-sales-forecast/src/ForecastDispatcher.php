<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Redis\Connections\Connection;
use InvalidArgumentException;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;

/**
 * Queues `forecast.sales` jobs through one of the application's Redis connections (phpredis or
 * predis, through Illuminate\Redis) and reads their results (CONTRACT §6): a Celery protocol-2
 * message LPUSHed onto the forecast queue, the outcome read from `celery-task-meta-<id>`.
 * docs/laravel.md describes every field written and read here.
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
        string $connectionName = 'sales-forecast',
    ) {
        if ($queue === '') {
            throw new InvalidArgumentException('the queue name must not be empty (sales-forecast.redis.queue)');
        }
        KeyPrefix::assertNone($redis, $connectionName, $queue);
    }

    /**
     * Queue a forecast; returns its task id. $kwargs are the body fields of POST /api/v1/forecasts
     * (start_date, end_date, status, horizon, level, model, callback_url, refresh, group_by, measure),
     * all optional. The worker validates them: a wrong one ends the job FAILURE invalid_request.
     */
    public function dispatch(array $kwargs = [], ?string $taskId = null): string
    {
        $taskId ??= self::uuid4();
        $this->redis->command('lpush', [$this->queue, $this->message($kwargs, $taskId)]);
        return $taskId;
    }

    /** The message dispatch() pushes, as the JSON string the worker reads. */
    public function message(array $kwargs, string $taskId): string
    {
        if ($kwargs !== [] && array_is_list($kwargs)) {
            throw new InvalidArgumentException('kwargs must be an associative array (field => value)');
        }
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
            throw new InvalidArgumentException('the message is over 1 MB: the workers would refuse it');
        }
        return $json;
    }

    /** The job's stored result, or null while it has none (queued, unknown, or expired after RESULT_TTL_SECONDS). */
    public function result(string $taskId): ?ForecastResult
    {
        $raw = $this->redis->command('get', ['celery-task-meta-' . $taskId]);
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
        $deadline = microtime(true) + $timeout;
        while (true) {
            $result = $this->result($taskId);
            if ($result !== null && $result->finished()) {
                return $result;
            }
            if (microtime(true) >= $deadline) {
                throw new ForecastTimeout($taskId, $timeout, $result?->status() ?? 'PENDING');
            }
            usleep((int) (max(0.01, $interval) * 1e6));
        }
    }

    public function queue(): string
    {
        return $this->queue;
    }

    private static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr(ord($bytes[6]) & 0x0f | 0x40);
        $bytes[8] = chr(ord($bytes[8]) & 0x3f | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }
}
