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
        $this->assertSame('t1', $client->submit([], 'idem-1')->taskId());
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
            (new ForecastClient($http, 'https://forecast.test'))->submit(['horizon' => 12]);
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

    public function testSeriesCsvStreamsToAPathOrAStreamAndWritesNothingOnAnError(): void
    {
        $csv = "level,category,period,forecast,low,high\n0,,2025-11,1500.00,1200.00,1800.00\n1,Shoes,2025-11,700.00,500.00,900.00\n";
        $http = new Factory();
        $http->fake([  // closures: Laravel 8's fake writes a sink once per response object
            '*/t1/series.csv' => fn () => $http->response($csv, 200, ['Content-Type' => 'text/csv']),
            '*' => fn () => $http->response(['status' => 'error', 'error' => ['code' => 'not_found', 'message' => 'the job has no series yet: it is PENDING']], 404),
        ]);
        $client = new ForecastClient($http, 'https://forecast.test', 'k-1');
        $dir = sys_get_temp_dir() . '/series-csv-' . bin2hex(random_bytes(4));
        mkdir($dir);
        try {
            $this->assertSame(strlen($csv), $client->seriesCsv('t1', "$dir/t1.csv"));
            $this->assertSame($csv, file_get_contents("$dir/t1.csv"));
            $http->assertSent(fn (Request $r) => $r->url() === 'https://forecast.test/api/v1/forecasts/t1/series.csv'
                && $r->header('Accept') === ['text/csv'] && $r->header('Authorization') === ['Bearer k-1']);

            $stream = fopen('php://memory', 'w+b');
            fwrite($stream, "before\n");
            $this->assertSame(strlen($csv), $client->seriesCsv('t1', $stream));
            rewind($stream);
            $this->assertSame("before\n$csv", stream_get_contents($stream));

            try {
                $client->seriesCsv('t2', "$dir/t2.csv");
                $this->fail('no exception');
            } catch (ApiException $e) {
                $this->assertSame(['not_found', 404], [$e->errorCode, $e->status]);
            }
            $this->assertSame(['t1.csv'], array_values(array_diff(scandir($dir), ['.', '..'])), 'no t2.csv, no temporary file left');
        } finally {
            array_map(fn ($name) => unlink("$dir/$name"), array_diff(scandir($dir), ['.', '..']));
            rmdir($dir);
        }
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
        $this->assertSame('SUCCESS', $client->wait('t1', 10.0, 0.01)->status());
        $this->expectException(ForecastTimeout::class);
        $client->wait('t2', 0.1, 0.05);
    }

    public function testReadsAreRetriedAndSubmissionsOnlyWithAnIdempotencyKey(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->sequence()
            ->push(['status' => 'error', 'error' => ['code' => 'broker_unavailable', 'message' => 'down']], 503)
            ->push(['task_id' => 't1', 'status' => 'STARTED'])
            ->push(['status' => 'error', 'error' => ['code' => 'broker_unavailable', 'message' => 'down']], 503)
            ->push(['status' => 'error', 'error' => ['code' => 'broker_unavailable', 'message' => 'down']], 503)
            ->push(['task_id' => 't2', 'status' => 'PENDING'], 202)
            ->push(['status' => 'error', 'error' => ['code' => 'not_found', 'message' => 'no such job']], 404)]);
        $client = new ForecastClient(fn () => $http, 'https://forecast.test', null, 10.0, 1.0, 2, 0);
        $this->assertSame('STARTED', $client->status('t1')->status());      // a 503, then the answer
        try {
            $client->submit(['horizon' => 3]);                              // no idempotency key: not retried
            $this->fail('no exception');
        } catch (ApiException $e) {
            $this->assertSame(['broker_unavailable', 503], [$e->errorCode, $e->status]);
        }
        $this->assertSame('t2', $client->submit(['horizon' => 3], 'idem-2')->taskId());   // a 503, then 202
        try {
            $client->status('gone');                                        // a 404 is an answer: not retried
            $this->fail('no exception');
        } catch (ApiException $e) {
            $this->assertSame(['not_found', 404], [$e->errorCode, $e->status]);
        }
        $http->assertSentCount(6);
    }
}
