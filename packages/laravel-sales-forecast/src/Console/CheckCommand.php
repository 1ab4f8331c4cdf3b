<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Console;

use Illuminate\Console\Command;
use SalesForecast\Laravel\Exceptions\SalesForecastException;
use SalesForecast\Laravel\KeyPrefix;
use SalesForecast\Laravel\SalesForecast;
use SalesForecast\Laravel\WebhookSignature;
use Throwable;

/**
 * php artisan sales-forecast:check: is this app set up to reach the forecast service? The Redis
 * connection answers and has no key prefix; the queue's and dead-letter list's lengths; an API
 * key and a usable webhook secret are set; the host of the webhook URL the service must be
 * allowed to call (its CALLBACK_ALLOWED_HOSTS). Exit 0 when nothing is wrong, 1 otherwise.
 */
final class CheckCommand extends Command
{
    protected $signature = 'sales-forecast:check {--connection= : a Redis connection of the app (default: the package\'s own)}';

    protected $description = 'Check the sales-forecast set-up: Redis, queue, API key, webhook secret, callback host';

    private bool $failed = false;

    public function handle(SalesForecast $forecasts): int
    {
        $config = $this->laravel['config'];
        $name = $this->option('connection') ?? $forecasts->connectionName();
        try {
            $dispatcher = $forecasts->dispatcher($this->option('connection'));
            $dispatcher->connection()->command('ping');
            $this->report(true, 'redis', "connection [$name] answers");
            $this->report(KeyPrefix::of($dispatcher->connection()) === '', 'prefix', 'no key prefix');
            $lengths = $dispatcher->lengths();
            $this->report(true, 'queue', sprintf("'%s': %d waiting", $dispatcher->queue(), $lengths['queue']));
            $this->report($lengths['dead'] === 0, 'dead letters', sprintf("'%s.dead': %d refused%s", $dispatcher->queue(), $lengths['dead'],
                $lengths['dead'] ? ' (inspect them: LRANGE ' . $dispatcher->queue() . '.dead 0 9)' : ''), warnOnly: true);
        } catch (SalesForecastException $e) {
            $this->report(false, 'redis', $e->getMessage());
        }
        $this->report((bool) $config->get('sales-forecast.api.key'), 'api key', $config->get('sales-forecast.api.key')
            ? 'set' : 'SALES_FORECAST_API_KEY is not set (SalesForecast::api() needs one of the service\'s API_KEYS)', warnOnly: true);
        $secret = (string) $config->get('sales-forecast.webhook.secret');
        try {
            WebhookSignature::key($secret);
            $this->report(true, 'webhook secret', 'set');
        } catch (Throwable $e) {
            $this->report(false, 'webhook secret', $e->getMessage() . ' (every webhook is refused until it is)');
        }
        if ($config->get('sales-forecast.webhook.path')) {
            $url = route('sales-forecast.webhook');
            $host = (string) parse_url($url, PHP_URL_HOST);
            $local = in_array($host, ['localhost', '127.0.0.1', '::1', ''], true);
            $this->report(true, 'callback host', "$url: the service's CALLBACK_ALLOWED_HOSTS must name '$host'"
                . ($local ? ' (a local address: set APP_URL to the address the service reaches)' : ''));
        }
        return $this->failed ? 1 : 0;
    }

    private function report(bool $ok, string $what, string $detail, bool $warnOnly = false): void
    {
        if (!$ok && !$warnOnly) {
            $this->failed = true;
        }
        $this->line(sprintf('%-15s %s  %s', $what, $ok ? 'ok  ' : ($warnOnly ? 'WARN' : 'FAIL'), $detail));
    }
}
