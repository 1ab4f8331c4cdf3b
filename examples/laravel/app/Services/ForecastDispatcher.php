<?php

declare(strict_types=1);

namespace App\Services;

use InvalidArgumentException;
use LogicException;
use Redis;
use RuntimeException;

/**
 * Dispatches `forecast.sales` jobs to the forecasting workers through Redis, and reads their
 * results: a Celery protocol-2 message LPUSHed onto the forecast queue, the outcome read from
 * `celery-task-meta-<id>`. No Composer package, no Python: phpredis only.
 * docs/laravel.md describes every field written and read here.
 *
 *     $forecasts = new ForecastDispatcher($redis);          // a \Redis WITHOUT a key prefix
 *     $id = $forecasts->dispatch(['horizon' => 6, 'model' => 'auto']);
 *     $meta = $forecasts->wait($id, 60.0);                  // ['status' => 'SUCCESS', 'result' => [...]]
 *
 *     $id = $forecasts->dispatch(['group_by' => ['category'], 'measure' => 'units']);   // grouped (docs/api.md §8)
 *     $hierarchy = ForecastDispatcher::hierarchy($forecasts->wait($id, 120.0));        // levels, series_url...
 */
final class ForecastDispatcher
{
    public const TASK = 'forecast.sales';
    public const DEFAULT_QUEUE = 'forecasts';
    /** The workers refuse (dead-letter) any message larger than this; we refuse to send one. */
    public const MAX_MESSAGE_BYTES = 1048576;
    /** The states after which a job changes no more. */
    public const FINAL_STATES = ['SUCCESS', 'FAILURE', 'REVOKED'];

    public function __construct(
        private Redis $redis,
        private string $queue = self::DEFAULT_QUEUE,
    ) {
        // Laravel's Redis connections prefix every key (database.redis.options.prefix, by default
        // derived from APP_NAME): the message would land on "<prefix>forecasts", a list no worker
        // reads, and results would be looked for under the wrong key. Refuse such a client.
        $prefix = $redis->getOption(Redis::OPT_PREFIX);
        if ($prefix !== null && $prefix !== false && $prefix !== '') {
            throw new LogicException(sprintf(
                "this Redis connection prefixes keys with '%s': use a connection with 'prefix' => '' (docs/laravel.md)",
                $prefix,
            ));
        }
        if ($redis->getOption(Redis::OPT_SERIALIZER) !== Redis::SERIALIZER_NONE) {
            throw new LogicException("this Redis connection serializes values: use one with 'serializer' => none");
        }
        if (defined('Redis::OPT_COMPRESSION') && $redis->getOption(Redis::OPT_COMPRESSION) !== Redis::COMPRESSION_NONE) {
            throw new LogicException("this Redis connection compresses values: use one without compression");
        }
        if ($queue === '') {
            throw new InvalidArgumentException('the queue name must not be empty');
        }
    }

    /**
     * Queue a forecast; returns its task id. $kwargs are the body fields of POST /api/v1/forecasts
     * (start_date, end_date, status, horizon, level, model, callback_url, refresh, and for a grouped
     * forecast group_by, e.g. ['category', 'product_id'], and measure: revenue, units or orders),
     * all optional. The worker validates them: a wrong one ends the job as FAILURE with code
     * invalid_request.
     */
    public function dispatch(array $kwargs = [], ?string $taskId = null): string
    {
        $taskId ??= self::uuid4();
        $this->redis->lPush($this->queue, $this->message($kwargs, $taskId));
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

    /**
     * The stored result of a job, or null while it has none (queued, or unknown, or expired after
     * RESULT_TTL_SECONDS). ['status' => 'STARTED'|'PROGRESS'|'SUCCESS'|'FAILURE'|'REVOKED'|..., 'result' => ...]
     */
    public function result(string $taskId): ?array
    {
        $raw = $this->redis->get('celery-task-meta-' . $taskId);
        if ($raw === false || $raw === null) {
            return null;
        }
        $meta = json_decode($raw, true);
        return is_array($meta) ? $meta : null;
    }

    /**
     * Poll until the job is SUCCESS, FAILURE or REVOKED; returns its result meta.
     *
     * @throws RuntimeException when $timeout seconds pass first (the job may still finish later)
     */
    public function wait(string $taskId, float $timeout = 60.0, float $interval = 0.25): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $meta = $this->result($taskId);
            if ($meta !== null && in_array($meta['status'] ?? null, self::FINAL_STATES, true)) {
                return $meta;
            }
            if (microtime(true) >= $deadline) {
                throw new RuntimeException(sprintf(
                    'forecast %s did not finish within %.1fs (last status: %s)',
                    $taskId, $timeout, $meta['status'] ?? 'PENDING',
                ), 2);
            }
            usleep((int) (max(0.01, $interval) * 1e6));
        }
    }

    /**
     * data.hierarchy of a grouped job's SUCCESS meta (group_by, measure, levels [['fields', 'series'], ...],
     * series, coherent, series_url, csv_url), else null. The meta's data.forecast is the shop's total;
     * the per-group series are paged from the web API (GET series_url).
     */
    public static function hierarchy(array $meta): ?array
    {
        $hierarchy = ($meta['status'] ?? null) === 'SUCCESS' ? ($meta['result']['data']['hierarchy'] ?? null) : null;
        return is_array($hierarchy) ? $hierarchy : null;
    }

    /**
     * ['code' => ..., 'message' => ...] of a FAILURE meta; the code is stable (docs/api.md §7):
     * invalid_request, insufficient_history, upstream_unavailable, upstream_invalid, internal_error...
     */
    public static function error(array $meta): ?array
    {
        if (($meta['status'] ?? null) === 'REVOKED') {
            return ['code' => 'cancelled', 'message' => 'the job was cancelled'];
        }
        if (($meta['status'] ?? null) !== 'FAILURE') {
            return null;
        }
        $args = $meta['result']['exc_message'] ?? null;
        if (is_array($args) && count($args) >= 2 && is_string($args[0]) && is_string($args[1])) {
            return ['code' => $args[0], 'message' => $args[1]];
        }
        return ['code' => 'internal_error', 'message' => 'the job failed unexpectedly'];
    }

    private static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr(ord($bytes[6]) & 0x0f | 0x40);
        $bytes[8] = chr(ord($bytes[8]) & 0x3f | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }
}
