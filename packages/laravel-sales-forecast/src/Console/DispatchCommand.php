<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Console;

use Illuminate\Console\Command;
use InvalidArgumentException;
use JsonException;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\SalesForecast;

/**
 * php artisan sales-forecast:dispatch [--horizon=6] [--model=ets] [--level=80] [--group-by=category,product_id]
 *     [--measure=units] [--kwargs=JSON] [--wait] [--timeout=60]
 *
 * Prints the task id; with --wait, the stored result as JSON; with --dry-run, the message, unsent. Exit codes: 0 queued or SUCCESS,
 * 1 FAILURE or REVOKED, 2 timed out, 64 bad usage, 78 a misconfigured Redis connection.
 */
final class DispatchCommand extends Command
{
    protected $signature = 'sales-forecast:dispatch
        {--horizon= : months to forecast (1-24)}
        {--model= : auto, linear, seasonal_naive, ets, theta or arima}
        {--level= : interval level in % (50-99.9)}
        {--group-by= : a grouped forecast: sale-line fields, outermost first, comma-separated (category,product_id)}
        {--measure= : what a grouped forecast sums: revenue, units or orders}
        {--kwargs= : any other job fields, as a JSON object}
        {--connection= : the Redis connection (default: sales-forecast.redis.connection)}
        {--wait : wait for the result and print it}
        {--dry-run : print the message instead of pushing it}
        {--timeout=60 : seconds to wait}';

    protected $description = 'Queue a sales forecast on the forecast workers through Redis';

    public function handle(SalesForecast $forecasts): int
    {
        try {
            $kwargs = json_decode($this->option('kwargs') ?? '{}', true, 32, JSON_THROW_ON_ERROR);
        } catch (JsonException $e) {
            $this->error('--kwargs is not JSON: ' . $e->getMessage());
            return 64;
        }
        if (!is_array($kwargs) || ($kwargs !== [] && array_is_list($kwargs))) {
            $this->error('--kwargs must be a JSON object');
            return 64;
        }
        foreach (['horizon' => 'int', 'level' => 'float', 'model' => 'string', 'measure' => 'string'] as $field => $type) {
            $value = $this->option($field);
            if ($value !== null) {
                $kwargs[$field] = $type === 'string' ? $value : (is_numeric($value) ? $value + 0 : $value);
            }
        }
        if ($this->option('group-by') !== null) {
            $kwargs['group_by'] = array_map('trim', explode(',', $this->option('group-by')));  // the worker checks the names
        }
        try {
            if ($this->option('dry-run')) {
                $this->line($forecasts->dispatcher($this->option('connection'))->message($kwargs, 'dry-run'));
                return 0;
            }
            $id = $forecasts->dispatcher($this->option('connection'))->dispatch($kwargs);
            $this->getOutput()->getErrorStyle()->writeln("dispatched $id");
            if (!$this->option('wait')) {
                $this->line($id);
                return 0;
            }
            $result = $forecasts->dispatcher($this->option('connection'))->wait($id, (float) $this->option('timeout'));
        } catch (MisconfiguredConnection $e) {
            $this->error($e->getMessage());
            return 78;
        } catch (InvalidArgumentException $e) {
            $this->error($e->getMessage());
            return 64;
        } catch (ForecastTimeout $e) {
            $this->error($e->getMessage());
            return 2;
        }
        $this->line(json_encode($result->meta(), JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_PRETTY_PRINT));
        if ($error = $result->error()) {
            $this->error("forecast $id failed: {$error['code']}: {$error['message']}");
            return 1;
        }
        return 0;
    }
}
