<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Console;

use Illuminate\Console\Command;
use JsonException;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\SalesForecast;

/**
 * php artisan sales-forecast:dispatch [--horizon=6] [--model=ets] [--frequency=week] ... [--wait]
 *
 * Builds the request with ForecastRequest (checked before anything is sent), prints the task id;
 * with --wait, the stored result as JSON; with --dry-run, the message, unsent. Exit codes: 0
 * queued or SUCCESS, 1 FAILURE or REVOKED, 2 timed out, 64 bad usage or a request the service
 * would refuse, 69 Redis unavailable, 78 a misconfigured Redis connection.
 */
final class DispatchCommand extends Command
{
    protected $signature = 'sales-forecast:dispatch
        {--horizon= : periods to forecast (1-24 months, 1-104 weeks, 1-366 days)}
        {--model= : auto, linear, seasonal_naive, ets, theta or arima}
        {--level= : interval level in % (50-99.9)}
        {--frequency= : month, week or day}
        {--start-date= : first day of history, YYYY-MM-DD}
        {--end-date= : last day of history, YYYY-MM-DD}
        {--status= : the sale status to read (default completed)}
        {--group-by= : a grouped forecast: sale-line fields, outermost first, comma-separated (category,product_id)}
        {--measure= : what is summed: revenue, units or orders}
        {--holidays= : a country or region code (US, US-CA, DE-BY), or "none"}
        {--events= : known events, a JSON list of {"name", "start", "end"}}
        {--lead-time= : inventory advice: the supplier lead time in periods (0-52)}
        {--review-period= : inventory advice: periods between stock reviews (1-52)}
        {--service-level= : inventory advice: the service level in % (50-99.9)}
        {--callback-url= : where the service POSTs the signed final status}
        {--refresh : bypass the service\'s result cache}
        {--kwargs= : any fields, as a JSON object (the options above win)}
        {--connection= : a Redis connection of the app (default: the package\'s own)}
        {--wait : wait for the result and print it}
        {--dry-run : print the message instead of pushing it}
        {--timeout=60 : seconds to wait}';

    protected $description = 'Queue a sales forecast on the forecast workers through Redis';

    public function handle(SalesForecast $forecasts): int
    {
        try {
            $request = $this->request();
        } catch (JsonException $e) {
            $this->error('--kwargs and --events must be JSON: ' . $e->getMessage());
            return 64;
        } catch (InvalidForecastRequest $e) {
            $this->error("invalid_request: {$e->getMessage()}");
            return 64;
        }
        try {
            $dispatcher = $forecasts->dispatcher($this->option('connection'));
            if ($this->option('dry-run')) {
                $this->line($dispatcher->message($request, 'dry-run'));
                return 0;
            }
            $id = $dispatcher->dispatch($request);
            $this->getOutput()->getErrorStyle()->writeln("dispatched $id");
            if (!$this->option('wait')) {
                $this->line($id);
                return 0;
            }
            $result = $dispatcher->wait($id, (float) $this->option('timeout'));
        } catch (MisconfiguredConnection $e) {
            $this->error($e->getMessage());
            return 78;
        } catch (RedisUnavailable $e) {
            $this->error($e->getMessage());
            return 69;
        } catch (ForecastTimeout $e) {
            $this->error($e->getMessage());
            return 2;
        }
        $this->line(json_encode($result->meta(), JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_PRETTY_PRINT));
        if ($error = $result->error()) {
            $this->error("forecast $id failed: {$error->code}: {$error->message}");
            return 1;
        }
        return 0;
    }

    /** @throws JsonException|InvalidForecastRequest */
    private function request(): ForecastRequest
    {
        $kwargs = json_decode($this->option('kwargs') ?? '{}', true, 32, JSON_THROW_ON_ERROR);
        if (!is_array($kwargs) || ($kwargs !== [] && array_is_list($kwargs))) {
            throw new InvalidForecastRequest(null, '--kwargs must be a JSON object');
        }
        $request = ForecastRequest::fromArray($kwargs);
        $number = fn (string $option) => is_numeric($this->option($option)) ? $this->option($option) + 0 : $this->option($option);
        foreach (['horizon', 'level'] as $option) {
            if ($this->option($option) !== null) {
                $request->{$option}($number($option));
            }
        }
        foreach (['model' => 'model', 'frequency' => 'frequency', 'measure' => 'measure', 'status' => 'status',
            'start-date' => 'startDate', 'end-date' => 'endDate', 'callback-url' => 'callbackUrl'] as $option => $setter) {
            if ($this->option($option) !== null) {
                $request->{$setter}($this->option($option));
            }
        }
        if ($this->option('group-by') !== null) {
            $request->groupBy(...array_map('trim', explode(',', $this->option('group-by'))));
        }
        if ($this->option('holidays') !== null) {
            $request->holidays(in_array($this->option('holidays'), ['none', ''], true) ? [] : $this->option('holidays'));
        }
        if ($this->option('events') !== null) {
            $events = json_decode($this->option('events'), true, 32, JSON_THROW_ON_ERROR);
            $request->events(is_array($events) ? $events : [$events]);
        }
        if ($this->option('lead-time') === null && ($this->option('review-period') !== null || $this->option('service-level') !== null)) {
            throw new InvalidForecastRequest('inventory.lead_time', 'is required (--lead-time)');
        }
        if ($this->option('lead-time') !== null) {
            $request->inventory($number('lead-time'), $this->option('review-period') === null ? null : $number('review-period'),
                $this->option('service-level') === null ? null : $number('service-level'));
        }
        if ($this->option('refresh')) {
            $request->refresh();
        }
        return $request->validate();
    }
}
