<?php

declare(strict_types=1);

use Illuminate\Http\Client\Factory;
use Illuminate\Http\Client\Request;
use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;
use SalesForecast\Laravel\ForecastClient;

/** The web API client against Http::fake()'s recorded requests (the real service: tests/laravel/in_laravel). */
final class ForecastClientTest extends TestCase
{
    public function testSubmitSendsAJsonObjectTheKeyAndTheIdempotencyKey(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->response(['task_id' => 't1', 'status' => 'PENDING', 'status_url' => '/api/v1/forecasts/t1'], 202)]);
        $client = new ForecastClient($http, 'https://forecast.test/', 'k-1');
        $this->assertSame('t1', $client->submit([], 'idem-1')['task_id']);
        $http->assertSent(fn (Request $r) => $r->url() === 'https://forecast.test/api/v1/forecasts'
            && $r->method() === 'POST' && $r->body() === '{}'
            && $r->header('Authorization') === ['Bearer k-1'] && $r->header('Idempotency-Key') === ['idem-1']
            && $r->header('Accept') === ['application/json']);
    }

    public function testErrorsCarryTheServicesCode(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->response(['status' => 'error', 'error' => [
            'code' => 'invalid_request', 'message' => 'horizon: too large', 'field' => 'horizon',
        ]], 422)]);
        try {
            (new ForecastClient($http, 'https://forecast.test'))->submit(['horizon' => 99]);
            $this->fail('no exception');
        } catch (ApiException $e) {
            $this->assertSame(['invalid_request', 422, 'horizon'], [$e->errorCode, $e->status, $e->field]);
        }
    }

    public function testSeriesWalksEveryPageAndStopsOnALoop(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->sequence()
            ->push(['series' => [['key' => ['store_id' => 1]], ['key' => ['store_id' => 2]]], 'next_cursor' => 'c2'])
            ->push(['series' => [['key' => ['store_id' => 3]]], 'next_cursor' => null])
            ->push(['series' => [['key' => ['store_id' => 1]]], 'next_cursor' => 'c2'])
            ->push(['series' => [], 'next_cursor' => 'c2'])]);
        $client = new ForecastClient($http, 'https://forecast.test');
        $keys = $client->series('t1', 1, null, 2)->pluck('key.store_id')->all();
        $this->assertSame([1, 2, 3], $keys);
        $http->assertSent(fn (Request $r) => str_ends_with($r->url(), '/api/v1/forecasts/t1/series?level=1&limit=2&cursor=c2'));
        $this->expectException(ApiException::class);
        $client->series('t1')->all();
    }

    public function testWaitPollsUntilTheJobIsFinal(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->sequence()
            ->push(['task_id' => 't1', 'status' => 'PENDING'])
            ->push(['task_id' => 't1', 'status' => 'PROGRESS'])
            ->push(['task_id' => 't1', 'status' => 'SUCCESS', 'result' => ['status' => 'success']])
            ->whenEmpty($http->response(['task_id' => 't2', 'status' => 'STARTED']))]);
        $client = new ForecastClient($http, 'https://forecast.test');
        $this->assertSame('SUCCESS', $client->wait('t1', 10.0, 0.01)['status']);
        $this->expectException(ForecastTimeout::class);
        $client->wait('t2', 0.1, 0.05);
    }
}
