<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Testing;

use Closure;
use Illuminate\Support\Collection;
use PHPUnit\Framework\Assert;
use SalesForecast\Laravel\Alert;
use SalesForecast\Laravel\AlertPage;
use SalesForecast\Laravel\Contracts\SalesForecast as Contract;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Enums\State;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastJobFailed;
use SalesForecast\Laravel\Exceptions\ForecastNotFinished;
use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\ForecastDispatcher;
use SalesForecast\Laravel\ForecastError;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\SalesForecast;
use SalesForecast\Laravel\SuggestedOrder;

/**
 * SalesForecast::fake(): nothing reaches Redis. Each dispatch is checked as the real one checks it
 * (an invalid request throws InvalidForecastRequest), recorded, and answered at once by the canned
 * result; wait() and result() return it. alerts() answers from the canned alerts (withAlerts()),
 * filtered and paged as the service does; suggestedOrders() from the canned rows
 * (withSuggestedOrders()), and a dispatched job whose canned result failed throws as the real one.
 * api() is the real client: fake it with Http::fake().
 *
 *     $fake = SalesForecast::fake(SalesForecastFake::failure('insufficient_history'));
 *     ... the code under test ...
 *     SalesForecast::assertDispatched(fn (ForecastRequest $r) => $r->get('horizon') === 6);
 */
class SalesForecastFake implements Contract
{
    /** @var array<string, ForecastRequest> task id => request, in dispatch order */
    private array $dispatched = [];
    /** @var array<string, ForecastResult> */
    private array $results = [];
    private ForecastResult|Closure $respond;
    /** @var list<Alert> newest first */
    private array $alerts = [];
    /** @var array<string, list<SuggestedOrder>> task id ('*': any task) => canned rows */
    private array $orders = [];
    /** @var list<string> the task ids suggestedOrders() was asked for, in order */
    private array $ordersRead = [];

    public function __construct(private ?SalesForecast $real = null, ForecastResult|Closure|null $result = null)
    {
        $this->respond = $result ?? self::success();
    }

    /** A SUCCESS whose forecast is $forecast merged over a small plausible one. */
    public static function success(array $forecast = [], array $actualSales = []): ForecastResult
    {
        $forecast += [
            'next_period_forecast' => 1000.0, 'next_month_forecast' => 1000.0, 'frequency' => 'month',
            'expected_range_low' => 900.0, 'expected_range_high' => 1100.0, 'confidence_level' => 90, 'model' => 'linear',
            'horizon' => [['period' => date('Y-m', strtotime('first day of next month')), 'forecast' => 1000.0, 'low' => 900.0, 'high' => 1100.0]],
        ];
        return ForecastResult::make('fake', State::Success, ['status' => 'success', 'data' => [
            'actual_sales' => $actualSales, 'forecast' => $forecast, 'data_quality' => [], 'meta' => ['fake' => true],
        ]]);
    }

    /** A FAILURE with the service's stable $code (insufficient_history, upstream_unavailable...). */
    public static function failure(string $code = 'insufficient_history', string $message = 'not enough history', ?string $field = null): ForecastResult
    {
        return ForecastResult::make('fake', State::Failure, null, new ForecastError($code, $message, $field));
    }

    /** A grouped SUCCESS: the total's forecast plus a hierarchy of $groupBy with $series series per level. */
    public static function grouped(array $groupBy = ['category'], array $series = [3], string $measure = 'revenue', array $forecast = []): ForecastResult
    {
        $success = self::success($forecast);
        $document = $success->document();
        $levels = [];
        foreach ($groupBy as $i => $_) {
            $levels[] = ['fields' => array_slice($groupBy, 0, $i + 1), 'series' => $series[$i] ?? 1];
        }
        $document['data']['hierarchy'] = [
            'group_by' => $groupBy, 'measure' => $measure, 'levels' => $levels,
            'series' => 1 + array_sum(array_column($levels, 'series')), 'coherent' => true,
            'series_url' => '/api/v1/forecasts/fake/series', 'csv_url' => '/api/v1/forecasts/fake/series.csv',
        ];
        return ForecastResult::make('fake', State::Success, $document);
    }

    /**
     * A canned alert: $kind on $series ([] the total) for $period, with plausible figures for its
     * kind, each overridable in $fields (the service's JSON names: actual, low, high, level, change_pct...).
     */
    public static function alert(AlertKind|string $kind = AlertKind::BelowRange, array $series = [], string $period = '2025-10', array $fields = []): Alert
    {
        $kind = $kind instanceof AlertKind ? $kind : AlertKind::from($kind);
        $figures = match ($kind) {
            AlertKind::BelowRange => ['actual' => 700.0, 'low' => 900.0, 'high' => 1100.0, 'level' => 90.0],
            AlertKind::AboveRange => ['actual' => 1300.0, 'low' => 900.0, 'high' => 1100.0, 'level' => 90.0],
            AlertKind::ForecastDrop => ['change_pct' => -25.0, 'level' => 90.0],
        };
        $fields += $figures + [
            'created_at' => date(DATE_ATOM), 'series' => $series, 'kind' => $kind->value, 'period' => $period,
            'frequency' => 'month', 'measure' => 'revenue', 'task_id' => 'fake',
        ];
        $fields['id'] ??= substr(hash('sha256', json_encode([$fields['kind'], $fields['series'], $fields['period'], $fields['measure'], $fields['frequency']])), 0, 32);
        return Alert::fromArray($fields);
    }

    /** Answer alerts() with $alerts (Alert objects or the service's arrays), listed newest first. */
    public function withAlerts(array $alerts): self
    {
        $alerts = array_map(fn (Alert|array $a) => $a instanceof Alert ? $a : Alert::fromArray($a), array_values($alerts));
        usort($alerts, fn (Alert $a, Alert $b) => [$b->createdAt, $b->id] <=> [$a->createdAt, $a->id]);
        $this->alerts = $alerts;
        return $this;
    }

    public function alerts(
        \DateTimeInterface|string|null $since = null,
        AlertKind|string|null $kind = null,
        ?array $group = null,
        ?int $limit = null,
        ?string $cursor = null,
    ): AlertPage {
        $since = is_string($since) ? new \DateTimeImmutable($since) : $since;
        $kind = $kind instanceof AlertKind ? $kind->value : $kind;
        $matching = array_values(array_filter($this->alerts, fn (Alert $a) => ($since === null || $a->createdAt >= $since)
            && ($kind === null || $a->kind->value === $kind)
            && ($group === null || $a->series == $group)));
        $limit ??= 100;
        $offset = $cursor === null ? 0 : (int) $cursor;
        $page = array_slice($matching, $offset, $limit);
        return new AlertPage($page, $offset + $limit < count($matching) ? (string) ($offset + $limit) : null, $limit);
    }

    /**
     * A canned suggested order for product $product (key field product_id) in $group: $suggested
     * whole units to order (null: the shop's stock does not list it), with plausible figures,
     * each overridable in $inventory (the service's names: order_up_to, on_hand, service_level...).
     */
    public static function suggestedOrder(string $product, ?int $suggested = 10, array $group = [], array $inventory = [], string $productField = 'product_id'): SuggestedOrder
    {
        $inventory += ['lead_time_demand' => 40.0, 'order_up_to' => 50.0, 'safety_stock' => 10.0, 'service_level' => 95.0];
        $inventory += $suggested === null
            ? ['on_hand' => null, 'on_order' => null, 'suggested_order' => null]
            : ['on_hand' => max(0.0, $inventory['order_up_to'] - $suggested), 'on_order' => 0.0, 'suggested_order' => (float) $suggested];
        $inventory += ['achieved_service_level' => 93.8, 'backtest_origins' => 1];
        return SuggestedOrder::fromSeries(['key' => $group + [$productField => $product], 'inventory' => $inventory]);
    }

    /**
     * Answer suggestedOrders($taskId) (any task's when $taskId is null) with $rows: SuggestedOrder
     * objects (suggestedOrder()) or series as the service pages them (['key' => [...], 'inventory' => [...]]).
     */
    public function withSuggestedOrders(array $rows, ?string $taskId = null): self
    {
        $this->orders[$taskId ?? '*'] = array_map(
            fn (SuggestedOrder|array $row) => $row instanceof SuggestedOrder ? $row : SuggestedOrder::fromSeries($row),
            array_values($rows),
        );
        return $this;
    }

    public function suggestedOrders(string $taskId, ?int $limit = null, string $sort = 'key'): Collection
    {
        $this->ordersRead[] = $taskId;
        $result = $this->results[$taskId] ?? null;
        if ($result !== null && !$result->finished()) {
            throw new ForecastNotFinished($taskId, $result->status());
        }
        if ($result !== null && ($error = $result->error()) !== null) {
            throw new ForecastJobFailed($taskId, $result->status(), $error);
        }
        $rows = $this->orders[$taskId] ?? $this->orders['*']
            ?? throw new ApiException('not_found', "no suggested orders for $taskId: can them with SalesForecast::fake()->withSuggestedOrders([...])", 404);
        if (ltrim($sort, '-') === 'order') {
            // As the service sorts: stable, rows without a suggested order last.
            $known = array_values(array_filter($rows, fn (SuggestedOrder $o) => $o->suggestedOrder !== null));
            $sign = str_starts_with($sort, '-') ? -1 : 1;
            usort($known, fn (SuggestedOrder $a, SuggestedOrder $b) => $sign * ($a->suggestedOrder <=> $b->suggestedOrder));
            $rows = [...$known, ...array_filter($rows, fn (SuggestedOrder $o) => $o->suggestedOrder === null)];
        }
        return new Collection(array_slice($rows, 0, $limit));
    }

    /** suggestedOrders() was called (for $taskId; $times times when given). */
    public function assertSuggestedOrdersRead(?string $taskId = null, ?int $times = null): void
    {
        $count = count(array_filter($this->ordersRead, fn (string $id) => $taskId === null || $id === $taskId));
        $what = $taskId === null ? 'Suggested orders were' : "The suggested orders of $taskId were";
        if ($times === null) {
            Assert::assertTrue($count > 0, $taskId === null ? 'No suggested orders were read.' : "The suggested orders of $taskId were not read.");
        } else {
            Assert::assertSame($times, $count, "$what read $count times, not $times.");
        }
    }

    /** Answer the jobs dispatched from now on with $result (see SalesForecast::fake()). */
    public function respondWith(ForecastResult|Closure $result): self
    {
        $this->respond = $result;
        return $this;
    }

    public function dispatch(ForecastRequest|array $request = [], ?string $taskId = null, ?bool $afterCommit = null): string
    {
        $request = ForecastRequest::from($request);
        $taskId ??= ForecastDispatcher::newTaskId();
        $this->dispatched[$taskId] = $request;
        $result = $this->respond instanceof Closure ? ($this->respond)($request, $taskId) : $this->respond;
        $this->results[$taskId] = $result->withTaskId($taskId);
        return $taskId;
    }

    public function result(string $taskId): ?ForecastResult
    {
        return $this->results[$taskId] ?? null;
    }

    public function wait(string $taskId, float $timeout = 60.0): ForecastResult
    {
        return $this->results[$taskId] ?? throw new \SalesForecast\Laravel\Exceptions\ForecastTimeout($taskId, $timeout, 'PENDING');
    }

    public function api(): ForecastClient
    {
        return ($this->real ?? throw new \LogicException('this fake has no real client: fake the web API with Http::fake()'))->api();
    }

    /** @return array<string, ForecastRequest> the dispatched requests (by task id) that $callback accepts */
    public function dispatched(?Closure $callback = null): array
    {
        return array_filter($this->dispatched, fn (ForecastRequest $r, string $id) => $callback === null || $callback($r, $id), ARRAY_FILTER_USE_BOTH);
    }

    /** A forecast was dispatched ($times times) that $callback(ForecastRequest $request, string $taskId) accepts. */
    public function assertDispatched(?Closure $callback = null, ?int $times = null): void
    {
        $count = count($this->dispatched($callback));
        if ($times === null) {
            Assert::assertTrue($count > 0, 'No matching forecast was dispatched.');
        } else {
            Assert::assertSame($times, $count, "A matching forecast was dispatched $count times, not $times.");
        }
    }

    public function assertNotDispatched(?Closure $callback = null): void
    {
        Assert::assertCount(0, $this->dispatched($callback), 'A matching forecast was dispatched.');
    }

    public function assertNothingDispatched(): void
    {
        Assert::assertSame([], $this->dispatched, sprintf('%d forecasts were dispatched.', count($this->dispatched)));
    }
}
