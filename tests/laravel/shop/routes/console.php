<?php

// The shop's own commands, written as docs/laravel.md shows: the tests run each of them.

use Illuminate\Support\Facades\Artisan;
use SalesForecast\Laravel\Enums\Frequency;
use SalesForecast\Laravel\Enums\Measure;
use SalesForecast\Laravel\Enums\Model;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastJobFailed;
use SalesForecast\Laravel\Exceptions\ForecastNotFinished;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\SalesForecastException;
use SalesForecast\Laravel\Facades\SalesForecast;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\SalesForecast as Manager;
use SalesForecast\Laravel\SuggestedOrder;

Artisan::command('shop:forecast {--kwargs=} {--timeout=120}', function () {
    $kwargs = json_decode($this->option('kwargs') ?? '{}', true);

    // docs: dispatch
    $id = SalesForecast::dispatch($kwargs);          // e.g. ['horizon' => 6, 'model' => 'auto']
    $result = SalesForecast::wait($id, (float) $this->option('timeout'));   // or SalesForecast::result($id) later
    if ($error = $result->error()) {
        $this->error("{$error['code']}: {$error['message']}");   // invalid_request, insufficient_history...
    } else {
        $forecast = $result->forecast();             // next_period_forecast, frequency, expected_range_low/high, horizon...
        $hierarchy = $result->hierarchy();           // grouped jobs only: group_by, levels, series_url...
    }
    // end docs

    $this->line(json_encode([
        'task_id' => $id,
        'status' => $result->status(),
        'error' => $error,
        'forecast' => $forecast ?? null,
        'hierarchy' => $hierarchy ?? null,
        'actual_sales' => $result->actualSales(),
        'client' => SalesForecast::getFacadeRoot() instanceof Manager ? get_class(SalesForecast::dispatcher()->connection()->client()) : 'fake',
    ], JSON_PRESERVE_ZERO_FRACTION));
    return $error ? 1 : 0;
});

Artisan::command('shop:forecast-api {--kwargs=} {--timeout=120}', function () {
    $kwargs = json_decode($this->option('kwargs') ?? '{}', true);

    // docs: web api
    $api = SalesForecast::api();                     // Laravel's Http client: Http::fake() applies
    $job = $api->submit($kwargs, 'shop-' . md5(json_encode($kwargs)));  // Idempotency-Key: optional
    $status = $api->wait($job->taskId(), (float) $this->option('timeout'));  // or $api->status($id) later
    $forecast = $status->forecast();                 // a ForecastResult, as from Redis; error: $status->error()->code
    // end docs

    $this->line(json_encode(['submitted' => $job->toArray(), 'status' => $status->toArray(), 'forecast' => $forecast], JSON_PRESERVE_ZERO_FRACTION));
});

Artisan::command('shop:forecast-api-error {--kwargs=}', function () {
    try {
        SalesForecast::api()->submit(json_decode($this->option('kwargs') ?? '{}', true));
        return 0;
    } catch (ApiException $e) {
        $this->line(json_encode(['code' => $e->errorCode, 'status' => $e->status, 'field' => $e->field, 'message' => $e->getMessage()]));
        return 1;
    } catch (SalesForecastException $e) {            // refused before sending: InvalidForecastRequest
        $this->line(json_encode(['code' => $e->errorCode(), 'status' => null, 'field' => $e->field ?? null, 'message' => $e->getMessage()]));
        return 2;
    }
});

Artisan::command('shop:series {task_id} {--level=}', function () {
    $taskId = $this->argument('task_id');
    $level = $this->option('level') === null ? null : (int) $this->option('level');

    // docs: series
    $api = SalesForecast::api();
    foreach ($api->series($taskId, $level) as $series) {   // every page, fetched as you go
        $key = $series['key'];                             // ['category' => 'Shoes', 'product_id' => '17']
        $next = $series['forecast']['next_period_forecast'];
        $this->line(json_encode(['key' => $key, 'next' => $next]));
    }
    $history = $api->history(null, 12)['forecasts'];       // GET /api/v1/history, newest first
    // end docs

    $this->line(json_encode(['history' => $history]));
});

Artisan::command('shop:grouped {--measure=revenue} {--page-size=100} {--timeout=120}', function () {
    $measure = $this->option('measure');
    $pageSize = (int) $this->option('page-size');

    // docs: grouped dispatch
    $id = SalesForecast::dispatch([
        'group_by' => ['category', 'product_id'],    // sale-line fields, outermost first: a level per prefix
        'measure' => $measure,                       // revenue (sum of line_total, the default), units or orders
        'horizon' => 3,
        'model' => 'linear',                         // for every series; auto (the default) fits five models to each
    ]);
    $result = SalesForecast::wait($id, (float) $this->option('timeout'));
    if ($error = $result->error()) {
        $this->error("{$error['code']}: {$error['message']}");   // e.g. a field that no sale line has
        return 1;
    }
    $total = $result->forecast();                    // the shop's total, as for any forecast
    $hierarchy = $result->hierarchy();               // group_by, measure, levels, series, coherent, series_url, csv_url
    // end docs

    // docs: grouped series
    $api = SalesForecast::api();
    foreach ($hierarchy['levels'] as $i => $level) {     // ['fields' => ['category'], 'series' => 3], then category + product_id
        foreach ($api->series($id, $i + 1, pageSize: $pageSize) as $series) {   // page after page, fetched as you go
            // $series['key']: ['category' => 'Shoes', 'product_id' => '3'] (null: the lines without the field)
            // $series['forecast']: next_period_forecast, horizon [['period', 'forecast', 'low', 'high'], ...], model
            // $series['actual']: [['period' => '2025-10', 'value' => 812.5], ...], complete months
            $this->line(json_encode($series, JSON_PRESERVE_ZERO_FRACTION));
        }
    }
    $path = storage_path("app/forecasts/{$id}.csv");
    $bytes = $api->seriesCsv($id, $path);           // every series and month, streamed to the file
    // end docs

    $this->line(json_encode([
        'task_id' => $id,
        'total' => $total,
        'hierarchy' => $hierarchy,
        'cached' => $result->document()['data']['meta']['cached'] ?? null,
        'csv' => $path,
        'csv_bytes' => $bytes,
        'client' => SalesForecast::getFacadeRoot() instanceof Manager ? get_class(SalesForecast::dispatcher()->connection()->client()) : 'fake',
    ], JSON_PRESERVE_ZERO_FRACTION));
    return 0;
});

Artisan::command('shop:read {task_id}', function () {
    // docs: read
    $result = SalesForecast::result($this->argument('task_id'));   // null while queued or unknown
    if ($result !== null && $result->successful()) {
        $total = $result->nextPeriodForecast();                     // the shop's total, grouped or not, in any frequency
        if ($result->grouped()) {
            $levels = $result->hierarchy()['levels'];               // [['fields' => ['category'], 'series' => 3], ...]
        }
    }
    // end docs

    $this->line(json_encode([
        'status' => $result?->status(),
        'total' => $total ?? null,
        'grouped' => $result?->grouped(),
        'levels' => $levels ?? null,
        'error' => $result?->error(),
    ], JSON_PRESERVE_ZERO_FRACTION));
});

Artisan::command('shop:forecast-typed', function () {
    // docs: builder
    $request = ForecastRequest::make()
        ->horizon(12)->frequency(Frequency::Week)    // 1-24 months, 1-104 weeks or 1-366 days
        ->model(Model::Ets)->level(80)->measure(Measure::Units)
        ->holidays('US-CA')                          // public holidays as a regressor; [] for none
        ->event('Summer sale', '2025-07-01', '2025-07-14')   // up to 500 known events; end optional
        ->inventory(leadTime: 2, reviewPeriod: 1, serviceLevel: 95)   // stock advice with the forecast
        ->callbackUrl(route('sales-forecast.webhook'));
    $id = SalesForecast::dispatch($request);         // refused here, naming the field, if the service would refuse it
    // end docs
    $this->line($id);
});

Artisan::command('shop:refused {--kwargs=}', function () {
    // docs: refused
    try {
        SalesForecast::dispatch(json_decode($this->option('kwargs'), true));
    } catch (InvalidForecastRequest $e) {            // nothing was sent
        $this->error($e->getMessage());             // "inventory.lead_time: must be ..."; $e->field as the service's 422 names it
        return 1;
    } catch (SalesForecastException $e) {            // any other: RedisUnavailable, MisconfiguredConnection...
        $this->error("{$e->errorCode()}: {$e->getMessage()}");
        return 2;
    }
    // end docs
    return 0;
});

Artisan::command('shop:forecast-calendar {--frequency=week} {--timeout=120}', function () {
    $frequency = Frequency::from($this->option('frequency'));

    // docs: calendar
    $request = ForecastRequest::make()
        ->frequency($frequency)                      // Frequency::Week or Frequency::Day (Month is the default)
        ->horizon($frequency === Frequency::Day ? 14 : 8)   // in periods of that frequency
        ->model(Model::Linear)
        ->holidays('US')                             // the country's (or region's, 'US-CA') public holidays
        ->event('Spring sale', now()->subMonths(2)->startOfWeek()->toDateString(), now()->subMonths(2)->startOfWeek()->addDays(6)->toDateString())
        ->event('Next promo', now()->addDays(10)->toDateString());   // a one-day event, in the horizon
    $id = SalesForecast::dispatch($request);
    $result = SalesForecast::wait($id, (float) $this->option('timeout'));
    $horizon = $result->forecast()['horizon'] ?? [];  // [['period' => '2025-W43', 'forecast', 'low', 'high'], ...]
    // end docs

    $this->line(json_encode([
        'task_id' => $id,
        'request' => $request->toArray(),
        'status' => $result->status(),
        'error' => $result->error()?->toArray(),
        'document' => $result->document(),
    ], JSON_PRESERVE_ZERO_FRACTION));
    return $result->successful() ? 0 : 1;
});

Artisan::command('shop:alerts {--kind=} {--group=} {--since=}', function () {
    $group = $this->option('group') === null ? null : json_decode($this->option('group'), true);

    // docs: alerts
    $page = SalesForecast::alerts(since: $this->option('since'), kind: $this->option('kind'), group: $group, limit: 2);
    $seen = [];
    while (true) {
        foreach ($page->alerts as $alert) {             // SalesForecast\Laravel\Alert, newest first
            $seen[] = [$alert->kind->value, $alert->series, $alert->period, $alert->changePct ?? $alert->actual];
        }
        if ($page->nextCursor === null) {
            break;
        }
        $page = SalesForecast::alerts(since: $this->option('since'), kind: $this->option('kind'), group: $group, limit: 2, cursor: $page->nextCursor);
    }
    $all = SalesForecast::api()->allAlerts(kind: 'forecast_drop');   // or every page, lazily
    // end docs

    $this->line(json_encode(['paged' => $seen, 'drops' => $all->map(fn ($a) => $a->toArray())->values()->all()], JSON_PRESERVE_ZERO_FRACTION));
});

Artisan::command('shop:orders {--task-id=} {--timeout=120}', function () {
    $id = $this->option('task-id');                  // an existing job's orders (its exceptions), or a new job's
    if ($id === null) {
        // docs: orders dispatch
        $id = SalesForecast::dispatch(ForecastRequest::make()
            ->groupBy('category', 'product_id')->measure(Measure::Units)   // stock is counted in units
            ->horizon(3)->model(Model::Linear)
            ->inventory(leadTime: 2, reviewPeriod: 1, serviceLevel: 95));
        SalesForecast::wait($id, (float) $this->option('timeout'));
        // end docs
    }

    // docs: suggested orders
    try {
        $orders = SalesForecast::suggestedOrders($id);   // one SuggestedOrder per product, every page read
    } catch (ForecastNotFinished $e) {                   // still running (the service's 409): ask again later
        $this->error($e->getMessage());
        return 2;
    } catch (ForecastJobFailed $e) {                     // failed or cancelled: $e->error->code says why
        $this->error("{$e->errorCode()}: {$e->error->message}");
        return 1;
    }
    foreach ($orders->filter(fn (SuggestedOrder $o) => $o->needsOrder()) as $order) {
        // $order->product: '17' (its product_id), $order->group: ['category' => 'Tea']
        // $order->suggestedOrder: whole units to order now (null: the shop's stock does not list it)
        // $order->orderUpTo, safetyStock, onHand, onOrder, serviceLevel, achievedServiceLevel, measure
        $this->line(json_encode(['order' => $order->toArray()], JSON_PRESERVE_ZERO_FRACTION));
    }
    // end docs

    foreach ($orders as $order) {
        $this->line(json_encode(['row' => $order->toArray()], JSON_PRESERVE_ZERO_FRACTION));
    }
    $this->line(json_encode(['task_id' => $id, 'count' => $orders->count()]));
    return 0;
});
