<?php

declare(strict_types=1);

use Illuminate\Http\Client\Factory;
use Illuminate\Http\Client\Request;
use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\Enums\Measure;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastJobFailed;
use SalesForecast\Laravel\Exceptions\ForecastNotFinished;
use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\SuggestedOrder;
use SalesForecast\Laravel\Testing\SalesForecastFake;

/**
 * suggestedOrders() against Http::fake()'s recorded requests, and the fake's canned rows (the real
 * service's finished inventory job: tests/laravel/in_laravel/test_orders.py).
 */
final class SuggestedOrdersTest extends TestCase
{
    private const INVENTORY = ['lead_time' => 2, 'review_period' => 1, 'service_level' => 95.0,
        'achieved_service_level' => 91.7, 'backtest_origins' => 12, 'csv_url' => '/api/v1/forecasts/t1/series.csv?view=inventory'];

    private static function statusDocument(string $state, ?array $hierarchy = null, ?array $error = null): array
    {
        $data = ['actual_sales' => [], 'forecast' => ['next_period_forecast' => 10.0]];
        if ($hierarchy !== null) {
            $data['hierarchy'] = $hierarchy;
        }
        return ['task_id' => 't1', 'status' => $state, 'progress' => ['stage' => 'done', 'percent' => 100],
            'result' => $state === 'SUCCESS' ? ['status' => 'success', 'data' => $data] : null, 'error' => $error];
    }

    private static function hierarchyDocument(int $products, ?array $inventory = self::INVENTORY): array
    {
        $hierarchy = ['group_by' => ['category', 'product_id'], 'measure' => 'units',
            'levels' => [['fields' => ['category'], 'series' => 2], ['fields' => ['category', 'product_id'], 'series' => $products]]];
        return $inventory === null ? $hierarchy : $hierarchy + ['inventory' => $inventory];
    }

    private static function seriesDocument(string $category, ?string $product, ?float $suggested): array
    {
        return ['key' => ['category' => $category, 'product_id' => $product], 'level' => 2, 'inventory' => [
            'lead_time_demand' => 126.4, 'order_up_to' => 150.0, 'safety_stock' => 23.6, 'service_level' => 95.0,
            'on_hand' => $suggested === null ? null : 35.0, 'on_order' => $suggested === null ? null : 60.0,
            'suggested_order' => $suggested, 'achieved_service_level' => 100.0, 'backtest_origins' => 1]];
    }

    public function testEveryPageOfTheDeepestLevelBecomesTypedRows(): void
    {
        $http = new Factory();
        $http->fake(['*/series*' => $http->sequence()
                ->push(['series' => [self::seriesDocument('Tea', '17', 60.0), self::seriesDocument('Tea', '18', null)], 'next_cursor' => '2', 'level' => 2])
                ->push(['series' => [self::seriesDocument('Coffee', null, 0.0)], 'next_cursor' => null, 'level' => 2]),
            '*' => $http->response(self::statusDocument('SUCCESS', self::hierarchyDocument(3)))]);
        $orders = (new ForecastClient($http, 'https://forecast.test'))->suggestedOrders('t1', pageSize: 2);

        $this->assertSame(['17', '18', null], $orders->map(fn (SuggestedOrder $o) => $o->product)->all());
        [$tea, $unlisted, $nullKey] = $orders->all();
        $this->assertSame(['product_id', ['category' => 'Tea'], 60, 35.0, 60.0, 150.0, 23.6, 126.4, 95.0, Measure::Units],
            [$tea->productField, $tea->group, $tea->suggestedOrder, $tea->onHand, $tea->onOrder, $tea->orderUpTo,
             $tea->safetyStock, $tea->leadTimeDemand, $tea->serviceLevel, $tea->measure]);
        $this->assertTrue($tea->needsOrder() && $tea->stocked());
        $this->assertFalse($unlisted->needsOrder() || $unlisted->stocked());
        $this->assertFalse($nullKey->needsOrder());
        $this->assertSame(['Tea', '17', '126.40', '150', '23.60', '95', '35', '60', '60'], $tea->csvCells(['category', 'product_id']));
        $this->assertSame(['Tea', '18', '126.40', '150', '23.60', '95', '', '', ''], $unlisted->csvCells(['category', 'product_id']));
        $this->assertSame(['Coffee', 'null'], array_slice($nullKey->csvCells(['category', 'product_id']), 0, 2));
        $http->assertSent(fn (Request $r) => str_ends_with($r->url(), '/api/v1/forecasts/t1/series?level=2&limit=2&sort=key'));
        $http->assertSent(fn (Request $r) => str_ends_with($r->url(), '/api/v1/forecasts/t1/series?level=2&limit=1&cursor=2&sort=key'));
    }

    public function testReadingIsBoundedByTheLevelsCountAndTheLimit(): void
    {
        $http = new Factory();
        $page = ['series' => [self::seriesDocument('Tea', '1', 5.0), self::seriesDocument('Tea', '2', 4.0)], 'next_cursor' => '2'];
        $http->fake(['*/series*' => $http->response($page), '*' => $http->response(self::statusDocument('SUCCESS', self::hierarchyDocument(3)))]);
        $client = new ForecastClient($http, 'https://forecast.test');
        $this->assertCount(1, $client->suggestedOrders('t1', limit: 1, sort: '-order'));
        $http->assertSent(fn (Request $r) => str_ends_with($r->url(), '/series?level=2&limit=1&sort=-order'));
        // Pages that never end (the same cursor again) stop with upstream_invalid, not an endless read.
        try {
            $client->suggestedOrders('t1');
            $this->fail('no exception');
        } catch (ApiException $e) {
            $this->assertSame('upstream_invalid', $e->errorCode);
        }
    }

    public function testANotFinishedFailedOrInventorylessJobThrowsItsOwnException(): void
    {
        $cases = [
            [self::statusDocument('PROGRESS'), ForecastNotFinished::class, 'not_finished'],
            [self::statusDocument('FAILURE', null, ['code' => 'insufficient_history', 'message' => '5 months', 'field' => null]), ForecastJobFailed::class, 'insufficient_history'],
            [self::statusDocument('REVOKED'), ForecastJobFailed::class, 'cancelled'],
            [self::statusDocument('SUCCESS'), ApiException::class, 'not_found'],
            [self::statusDocument('SUCCESS', self::hierarchyDocument(3, null)), ApiException::class, 'not_found'],
            [['status' => 'error', 'error' => ['code' => 'not_found', 'message' => 'no such job']], ApiException::class, 'not_found'],
        ];
        foreach ($cases as [$body, $class, $code]) {
            $http = new Factory();
            $http->fake(['*' => $http->response($body, isset($body['task_id']) ? 200 : 404)]);
            try {
                (new ForecastClient($http, 'https://forecast.test'))->suggestedOrders('t1');
                $this->fail("no exception for $code");
            } catch (\SalesForecast\Laravel\Exceptions\SalesForecastException $e) {
                $this->assertInstanceOf($class, $e);
                $this->assertSame($code, $e->errorCode());
            }
            $http->assertSentCount(1);  // the status said it all: no page was asked for
        }
        // The series API's own 409 (a job that the status had as finished, then the series not yet) is the same exception.
        $http = new Factory();
        $http->fake(['*/series*' => $http->response(['status' => 'error', 'error' => ['code' => 'not_finished', 'message' => 'running']], 409),
            '*' => $http->response(self::statusDocument('SUCCESS', self::hierarchyDocument(3)))]);
        $this->expectException(ForecastNotFinished::class);
        (new ForecastClient($http, 'https://forecast.test'))->suggestedOrders('t1');
    }

    public function testTheFakeAnswersWithCannedRowsSortsLimitsAndAsserts(): void
    {
        $fake = new SalesForecastFake();
        $fake->withSuggestedOrders([
            SalesForecastFake::suggestedOrder('17', 60, ['category' => 'Tea']),
            SalesForecastFake::suggestedOrder('18', null, ['category' => 'Tea']),
            self::seriesDocument('Coffee', '21', 120.0),
        ]);
        $this->assertSame(['17', '18', '21'], $fake->suggestedOrders('any')->pluck('product')->all());
        $this->assertSame(['21', '17'], $fake->suggestedOrders('any', 2, '-order')->pluck('product')->all());
        $this->assertSame(60, $fake->suggestedOrders('any')->first()->suggestedOrder);
        $fake->assertSuggestedOrdersRead('any', 3);
        $fake->assertSuggestedOrdersRead();

        $id = $fake->respondWith(SalesForecastFake::failure('insufficient_history'))->dispatch(['horizon' => 3]);
        try {
            $fake->suggestedOrders($id);
            $this->fail('no exception');
        } catch (ForecastJobFailed $e) {
            $this->assertSame('insufficient_history', $e->errorCode());
        }
        $this->expectException(AssertionFailedError::class);
        $fake->assertSuggestedOrdersRead('never-read');
    }

    public function testTheFakeWithoutCannedRowsSaysHowToCanThem(): void
    {
        $this->expectExceptionMessage('withSuggestedOrders');
        (new SalesForecastFake())->suggestedOrders('t1');
    }
}
