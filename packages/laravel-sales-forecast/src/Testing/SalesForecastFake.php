<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Testing;

use Closure;
use PHPUnit\Framework\Assert;
use SalesForecast\Laravel\Contracts\SalesForecast as Contract;
use SalesForecast\Laravel\Enums\State;
use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\ForecastDispatcher;
use SalesForecast\Laravel\ForecastError;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\SalesForecast;

/**
 * SalesForecast::fake(): nothing reaches Redis. Each dispatch is checked as the real one checks it
 * (an invalid request throws InvalidForecastRequest), recorded, and answered at once by the canned
 * result; wait() and result() return it. api() is the real client: fake it with Http::fake().
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

    public function __construct(private ?SalesForecast $real = null, ForecastResult|Closure|null $result = null)
    {
        $this->respond = $result ?? self::success();
    }

    /** A SUCCESS whose forecast is $forecast merged over a small plausible one. */
    public static function success(array $forecast = [], array $actualSales = []): ForecastResult
    {
        $forecast += [
            'next_month_forecast' => 1000.0, 'expected_range_low' => 900.0, 'expected_range_high' => 1100.0,
            'confidence_level' => 90, 'model' => 'linear',
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
