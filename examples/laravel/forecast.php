<?php
/**
 * Dispatch a forecast from PHP and wait for its result, outside a Laravel application, with the
 * sales-forecast/laravel package's ForecastDispatcher (bootstrap.php loads it).
 *
 *   php forecast.php [--redis=URL] [--queue=NAME] [--timeout=SECONDS] [--no-wait] [--dry-run]
 *                    [--id=TASK_ID] [--kwargs=JSON] [--group-by=FIELDS] [--measure=NAME] [--hierarchy]
 *
 *   --redis      REDIS_URL or redis://127.0.0.1:6379/0 (redis://[:password@]host:port/db)
 *   --queue      FORECAST_QUEUE or "forecasts"
 *   --kwargs     the job's parameters, a JSON object: '{"horizon": 6, "model": "ets"}'
 *   --group-by   a grouped forecast (docs/api.md §8): sale-line fields, outermost first, comma-separated:
 *                category,product_id (the kwargs' group_by)
 *   --measure    revenue, units or orders (the kwargs' measure)
 *   --hierarchy  print the task id, status, error, the total's forecast and data.hierarchy (levels,
 *                series counts, series_url...) instead of the whole stored result
 *   --no-wait    print the task id and exit; --dry-run: print the message, push nothing
 *
 * The request is checked with the service's rules first (the package's ForecastRequest): one the
 * service would refuse is not sent. Prints the stored result (celery-task-meta-<id>) as JSON. Exit
 * codes: 0 SUCCESS, 1 FAILURE or REVOKED (the error code is in result.exc_message[0]), 2 timed
 * out, 64 bad usage or a request the service would refuse, 69 Redis unreachable, 78 a Redis client
 * that prefixes, serializes or compresses.
 */

declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;
use SalesForecast\Laravel\ForecastDispatcher;

const EXIT_SUCCESS = 0;
const EXIT_JOB_FAILED = 1;
const EXIT_TIMEOUT = 2;
const EXIT_USAGE = 64;
const EXIT_UNAVAILABLE = 69;
const EXIT_CONFIG = 78;

function fail(string $message, int $code): never
{
    fwrite(STDERR, "forecast.php: $message\n");
    exit($code);
}

$opts = getopt('', ['redis:', 'queue:', 'timeout:', 'kwargs:', 'id:', 'group-by:', 'measure:', 'hierarchy', 'no-wait', 'dry-run', 'help']);
if ($opts === false || isset($opts['help'])) {
    fwrite(STDERR, "usage: php forecast.php [--redis=URL] [--queue=NAME] [--timeout=S] [--kwargs=JSON] [--id=ID]\n"
        . "                    [--group-by=FIELD,...] [--measure=revenue|units|orders] [--hierarchy] [--no-wait] [--dry-run]\n");
    exit(isset($opts['help']) ? EXIT_SUCCESS : EXIT_USAGE);
}
$url = $opts['redis'] ?? (getenv('REDIS_URL') ?: 'redis://127.0.0.1:6379/0');
$queue = $opts['queue'] ?? (getenv('FORECAST_QUEUE') ?: 'forecasts');
$timeout = (float) ($opts['timeout'] ?? 60);
try {
    $kwargs = json_decode($opts['kwargs'] ?? '{}', true, 32, JSON_THROW_ON_ERROR);
} catch (JsonException $e) {
    fail('--kwargs is not JSON: ' . $e->getMessage(), EXIT_USAGE);
}
if (!is_array($kwargs) || ($kwargs !== [] && array_is_list($kwargs))) {
    fail('--kwargs must be a JSON object', EXIT_USAGE);
}
if (isset($opts['group-by'])) {
    $kwargs['group_by'] = array_map('trim', explode(',', (string) $opts['group-by']));
}
if (isset($opts['measure'])) {
    $kwargs['measure'] = (string) $opts['measure'];
}

$parts = parse_url($url);
if ($parts === false || !in_array($parts['scheme'] ?? '', ['redis', 'rediss'], true)) {
    fail("not a redis:// URL: $url", EXIT_USAGE);
}
$redis = new Redis();
try {
    $host = ($parts['scheme'] === 'rediss' ? 'tls://' : '') . ($parts['host'] ?? '127.0.0.1');
    $redis->connect($host, (int) ($parts['port'] ?? 6379), 5.0);
    if (isset($parts['pass'])) {
        $auth = isset($parts['user']) && $parts['user'] !== ''
            ? [rawurldecode($parts['user']), rawurldecode($parts['pass'])]
            : rawurldecode($parts['pass']);
        $redis->auth($auth);
    }
    $db = (int) ltrim($parts['path'] ?? '/0', '/');
    if ($db !== 0) {
        $redis->select($db);
    }
} catch (RedisException $e) {
    fail('Redis unreachable: ' . $e->getMessage(), EXIT_UNAVAILABLE);
}

try {
    $forecasts = new ForecastDispatcher(forecast_connection($redis), $queue, 'forecast.php');
    if (isset($opts['dry-run'])) {
        echo $forecasts->message($kwargs, $opts['id'] ?? 'dry-run'), "\n";
        exit(EXIT_SUCCESS);
    }
    $id = $forecasts->dispatch($kwargs, $opts['id'] ?? null);
    fwrite(STDERR, "dispatched $id onto '$queue'\n");
    if (isset($opts['no-wait'])) {
        echo $id, "\n";
        exit(EXIT_SUCCESS);
    }
    $result = $forecasts->wait($id, $timeout);
} catch (InvalidForecastRequest $e) {
    fail("invalid_request: {$e->getMessage()}", EXIT_USAGE);  // nothing was sent
} catch (MisconfiguredConnection $e) {
    fail($e->getMessage(), EXIT_CONFIG);
} catch (RedisUnavailable $e) {
    fail($e->getMessage(), EXIT_UNAVAILABLE);
} catch (ForecastTimeout $e) {
    fail($e->getMessage(), EXIT_TIMEOUT);
}

$error = $result->error();
$out = $result->meta();  // the stored result, as the worker wrote it
if (isset($opts['hierarchy'])) {
    // A grouped job's result is the total's forecast plus data.hierarchy (docs/api.md §8); the
    // per-group series are at hierarchy.series_url on the web API.
    $out = [
        'task_id' => $id,
        'status' => $result->status(),
        'error' => $error?->toArray(),
        'forecast' => $result->forecast(),
        'hierarchy' => $result->hierarchy(),
    ];
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_PRETTY_PRINT), "\n";
if ($error !== null) {
    fwrite(STDERR, "forecast $id failed: {$error->code}: {$error->message}\n");
    exit(EXIT_JOB_FAILED);
}
exit(EXIT_SUCCESS);
