<?php

namespace Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Event;
use Illuminate\Support\Facades\Http;
use Illuminate\Support\Sleep;
use SalesForecast\Laravel\Contracts\SalesForecast as SalesForecastContract;
use SalesForecast\Laravel\Alert;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Enums\Model;
use SalesForecast\Laravel\Enums\State;
use SalesForecast\Laravel\Events\ForecastAlertRaised;
use SalesForecast\Laravel\Events\ForecastFailed;
use SalesForecast\Laravel\Events\ForecastFinished;
use SalesForecast\Laravel\Events\ForecastSucceeded;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\RedisUnavailable;
use SalesForecast\Laravel\Exceptions\SalesForecastException;
use SalesForecast\Laravel\Facades\SalesForecast;
use SalesForecast\Laravel\ForecastRequest;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\Jobs\DispatchForecast;
use SalesForecast\Laravel\Testing\SalesForecastFake;
use SalesForecast\Laravel\Testing\SignedWebhook;
use Tests\TestCase;

/**
 * The package's testing helpers and typed API inside this booted app, as an app's own tests use
 * them. The tests that touch Redis use the service's Redis (SALES_FORECAST_REDIS_URL) on a queue
 * of their own, which no worker reads.
 */
class SalesForecastTest extends TestCase
{
    private const QUEUE = 'shop-tests-unconsumed';

    public function testTheContractIsBoundAndIsTheFacadesRoot(): void
    {
        $this->assertInstanceOf(\SalesForecast\Laravel\SalesForecast::class, app(SalesForecastContract::class));
        $this->assertSame(app(SalesForecastContract::class), SalesForecast::getFacadeRoot());
    }

    public function testTheFakeRecordsChecksAndAnswers(): void
    {
        // docs: fake
        $fake = SalesForecast::fake();                   // nothing reaches Redis; every job succeeds
        $this->artisan('shop:forecast', ['--kwargs' => '{"horizon": 6, "model": "ets"}'])->assertExitCode(0);
        SalesForecast::assertDispatched(fn (ForecastRequest $request) => $request->get('horizon') === 6);
        SalesForecast::assertDispatched(fn (ForecastRequest $request, string $taskId) => $request->get('model') === 'ets', 1);
        SalesForecast::assertNotDispatched(fn (ForecastRequest $request) => $request->grouped());

        SalesForecast::fake(SalesForecastFake::failure('insufficient_history', 'only 5 months of sales'));
        $this->artisan('shop:forecast')->assertExitCode(1);   // the canned failure: the command's error path
        // end docs
        $this->assertCount(1, $fake->dispatched());

        $fresh = SalesForecast::fake(SalesForecastFake::grouped(['category', 'product_id'], [3, 9]));
        SalesForecast::assertNothingDispatched();
        $id = SalesForecast::dispatch(ForecastRequest::make()->groupBy('category', 'product_id'));
        $result = SalesForecast::wait($id);
        $this->assertSame([$id, State::Success, true, 13], [$result->taskId(), $result->state(), $result->grouped(), $result->hierarchy()['series']]);
        $this->assertSame(1000.0, SalesForecast::result($id)->nextPeriodForecast());
        $this->assertCount(1, $fresh->dispatched());
    }

    public function testTheFakeAnswersSuggestedOrdersFromCannedRows(): void
    {
        // docs: fake orders
        $fake = SalesForecast::fake()->withSuggestedOrders([       // any job's orders; or ->withSuggestedOrders($rows, $taskId)
            SalesForecastFake::suggestedOrder('17', 60, ['category' => 'Tea']),    // 60 units of product 17 to order
            SalesForecastFake::suggestedOrder('18', null, ['category' => 'Tea']),  // not in the shop's stock list
        ]);
        $this->artisan('shop:orders')->assertExitCode(0);
        SalesForecast::assertDispatched(fn (ForecastRequest $request) => $request->get('inventory')['lead_time'] === 2);
        SalesForecast::assertSuggestedOrdersRead();

        SalesForecast::fake(SalesForecastFake::failure('insufficient_history', 'the history supports at most 18 periods'));
        $this->artisan('shop:orders')->assertExitCode(1);           // ForecastJobFailed: the command's error path
        // end docs

        $rows = $fake->suggestedOrders('any')->all();
        $fake = SalesForecast::fake()->withSuggestedOrders([], 'other');
        $id = SalesForecast::dispatch(ForecastRequest::make()->groupBy('category', 'product_id'));
        $fake->withSuggestedOrders($rows, $id);                     // this job's rows; 'other' has none
        $this->artisan('sales-forecast:orders', ['task_id' => $id, '--csv' => true])
            ->expectsOutput("category,product_id,lead_time_demand,order_up_to,safety_stock,service_level,on_hand,on_order,suggested_order\nTea,17,40,50,10,95,0,0,60\nTea,18,40,50,10,95,,,")
            ->assertExitCode(0);
        $this->artisan('sales-forecast:orders', ['task_id' => 'other'])->expectsOutput('No suggested orders.')->assertExitCode(0);
        $this->artisan('sales-forecast:orders', ['task_id' => $id, '--sort' => 'size'])->assertExitCode(64);
        SalesForecast::assertSuggestedOrdersRead($id, 1);
    }

    public function testTheBuilderSnippetSendsEveryField(): void
    {
        SalesForecast::fake();
        $this->artisan('shop:forecast-typed')->assertExitCode(0);
        SalesForecast::assertDispatched(fn (ForecastRequest $request) => $request->toArray() === [
            'horizon' => 12, 'frequency' => 'week', 'model' => 'ets', 'level' => 80, 'measure' => 'units', 'holidays' => 'US-CA',
            'events' => [['name' => 'Summer sale', 'start' => '2025-07-01', 'end' => '2025-07-14']],
            'inventory' => ['lead_time' => 2, 'review_period' => 1, 'service_level' => 95],
            'callback_url' => route('sales-forecast.webhook'),
        ]);
        $this->artisan('shop:refused', ['--kwargs' => '{"horizon": 3, "frequency": "week", "inventory": {"lead_time": 60}}'])
            ->expectsOutput('inventory.lead_time: must be a whole number between 0 and 52')->assertExitCode(1);
        SalesForecast::assertDispatched(fn () => true, 1);
    }

    public function testTheFakeRefusesWhatTheServiceWould(): void
    {
        SalesForecast::fake();
        try {
            SalesForecast::dispatch(['horizon' => 3, 'modle' => 'ets']);
            $this->fail('a typo was accepted');
        } catch (InvalidForecastRequest $e) {
            $this->assertSame(['modle', 'invalid_request'], [$e->field, $e->errorCode()]);
            $this->assertInstanceOf(SalesForecastException::class, $e);
        }
        SalesForecast::assertNothingDispatched();
    }

    public function testTheFacadeCanBeMocked(): void
    {
        SalesForecast::shouldReceive('dispatch')->once()->andReturn('task-1');
        $this->assertSame('task-1', SalesForecast::dispatch(['horizon' => 2]));
    }

    public function testTheFacadeCanBeSpiedAndTheContractMocked(): void
    {
        SalesForecast::spy();
        SalesForecast::result('task-2');
        SalesForecast::shouldHaveReceived('result')->with('task-2');

        $this->mock(SalesForecastContract::class, fn ($mock) => $mock->shouldReceive('result')->andReturn(null));
        $this->assertNull(app(SalesForecastContract::class)->result('task-3'));
    }

    public function testHttpFakeReachesTheClientEvenWhenItWasMadeBefore(): void
    {
        $api = SalesForecast::api();                     // made before Http::fake(), as a singleton's would be
        // docs: http fake
        Http::fake(['*/api/v1/forecasts/*' => Http::response(['task_id' => 't-1', 'status' => 'SUCCESS',
            'result' => ['status' => 'success', 'data' => ['forecast' => ['next_period_forecast' => 12.5]]], 'error' => null])]);
        $status = SalesForecast::api()->status('t-1');  // a ForecastResult, as SalesForecast::result() gives
        // end docs
        $this->assertSame(12.5, $status->nextPeriodForecast());
        $this->assertSame(12.5, $api->status('t-1')->nextPeriodForecast());
        Http::assertSentCount(2);
    }

    public function testWaitSleepsThroughLaravelsSleep(): void
    {
        if (!class_exists(Sleep::class)) {
            $this->markTestSkipped('Sleep is Laravel 10+; on Laravel 8 wait() sleeps with usleep()');
        }
        Sleep::fake();
        Http::fake(['*' => Http::sequence()
            ->push(['task_id' => 't-1', 'status' => 'PENDING'])
            ->push(['task_id' => 't-1', 'status' => 'PROGRESS', 'progress' => ['stage' => 'fitting', 'percent' => 60]])
            ->push(['task_id' => 't-1', 'status' => 'FAILURE', 'error' => ['code' => 'insufficient_history', 'message' => 'short']])]);
        $result = SalesForecast::api()->wait('t-1', 600, 5.0);  // ten minutes of polling, in no time
        $this->assertSame(['insufficient_history', 'short'], [$result->error()->code, $result->error()['message']]);
        Sleep::assertSleptTimes(2);
    }

    public function testSignedWebhooksBecomeTypedEvents(): void
    {
        Event::fake([ForecastFinished::class, ForecastSucceeded::class, ForecastFailed::class]);
        $secret = config('sales-forecast.webhook.secret');
        // docs: signed webhook
        $webhook = SignedWebhook::of(SalesForecastFake::success(['next_period_forecast' => 42.0])->withTaskId('t-1'), $secret);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $webhook->server(), $webhook->body)->assertNoContent();
        Event::assertDispatched(ForecastSucceeded::class, fn ($event) => $event->result->nextPeriodForecast() === 42.0);
        // end docs
        Event::assertDispatched(ForecastFinished::class, fn ($event) => $event->taskId === 't-1' && $event->error === null);

        $failure = SignedWebhook::of(SalesForecastFake::failure('upstream_unavailable', 'the shop did not answer')->withTaskId('t-2'), $secret);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $failure->server(), $failure->body)->assertNoContent();
        Event::assertDispatched(ForecastFailed::class, fn ($event) => $event->error->code === 'upstream_unavailable' && $event->result->taskId() === 't-2');

        $forged = SignedWebhook::of(['task_id' => 't-3', 'status' => 'SUCCESS'], 'whsec_' . base64_encode(str_repeat('x', 32)));
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $forged->server(), $forged->body)->assertStatus(401);
        $stale = SignedWebhook::of(['task_id' => 't-4', 'status' => 'SUCCESS'], $secret, time() - 3600);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $stale->server(), $stale->body)->assertStatus(401);
        Event::assertNotDispatched(ForecastFinished::class, fn ($event) => in_array($event->taskId, ['t-3', 't-4'], true));
    }

    public function testInsideATransactionTheMessageIsPushedOnCommit(): void
    {
        config(['sales-forecast.redis.queue' => self::QUEUE]);
        $redis = SalesForecast::dispatcher()->connection();
        $redis->command('del', [self::QUEUE]);

        // docs: after commit
        DB::transaction(function () {
            // ... $sale->save() ...
            $id = SalesForecast::dispatch(ForecastRequest::make()->horizon(3)->model(Model::Linear));   // pushed on commit
        });
        // end docs
        $this->assertSame(1, $redis->command('llen', [self::QUEUE]));

        DB::beginTransaction();
        SalesForecast::dispatch(['horizon' => 3]);
        $this->assertSame(1, $redis->command('llen', [self::QUEUE]), 'not pushed before the commit');
        DB::rollBack();
        $this->assertSame(1, $redis->command('llen', [self::QUEUE]), 'never pushed after a rollback');

        DB::transaction(fn () => SalesForecast::dispatch(['horizon' => 3], null, false));  // the opt-out: at once
        $this->assertSame(2, $redis->command('llen', [self::QUEUE]));
        $redis->command('del', [self::QUEUE]);
    }

    public function testTheQueuedJobDispatchesWithItsTaskId(): void
    {
        config(['sales-forecast.redis.queue' => self::QUEUE]);
        $redis = SalesForecast::dispatcher()->connection();
        $redis->command('del', [self::QUEUE]);
        // docs: queued dispatch
        $job = new DispatchForecast(ForecastRequest::make()->horizon(6));   // retried with back-off while Redis is down
        dispatch($job);                                   // the id is known at once: $job->taskId
        // end docs
        $message = json_decode($redis->command('rpop', [self::QUEUE]), true);
        $this->assertSame($job->taskId, $message['headers']['id']);
        $this->assertSame([1, 5, 10, 30, 60], $job->backoff());
    }

    public function testAnUnreachableRedisIsWrapped(): void
    {
        config(['sales-forecast.redis.url' => 'redis://127.0.0.1:9/0']);   // discard: nothing listens
        try {
            SalesForecast::dispatch(['horizon' => 3], null, false);
            $this->fail('no exception');
        } catch (RedisUnavailable $e) {
            $this->assertSame('broker_unavailable', $e->errorCode());
            $this->assertInstanceOf(SalesForecastException::class, $e);
        }
    }

    public function testOneResultObjectFromRedisTheApiAndWebhooks(): void
    {
        $fromRedis = new ForecastResult('t-1', ['status' => 'FAILURE', 'result' => ['exc_message' => ['invalid_request', 'horizon: too large']]]);
        $fromApi = ForecastResult::fromStatus(['task_id' => 't-1', 'status' => 'FAILURE', 'error' => ['code' => 'invalid_request', 'message' => 'horizon: too large']]);
        $this->assertSame($fromRedis->toArray(), $fromApi->toArray());
    }

    public function testSignedAlertWebhooksBecomeForecastAlertRaised(): void
    {
        Event::fake([ForecastAlertRaised::class, ForecastFinished::class]);
        $secret = config('sales-forecast.webhook.secret');
        // docs: signed alert webhook
        $webhook = SignedWebhook::alert(SalesForecastFake::alert(AlertKind::BelowRange, ['product_id' => '17'], '2025-10'), $secret);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $webhook->server(), $webhook->body)->assertNoContent();
        Event::assertDispatched(ForecastAlertRaised::class, fn ($event) => $event->alert->series === ['product_id' => '17']);
        // end docs
        Event::assertDispatched(ForecastAlertRaised::class, fn ($event) => $event->webhookId === $event->alert->id
            && $event->alert->kind === AlertKind::BelowRange && $event->alert->actual === 700.0 && $event->alert->level === 90.0);
        Event::assertNotDispatched(ForecastFinished::class);

        $forged = SignedWebhook::alert(SalesForecastFake::alert(), 'whsec_' . base64_encode(str_repeat('x', 32)));
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $forged->server(), $forged->body)->assertStatus(401);
        $stale = SignedWebhook::alert(SalesForecastFake::alert(AlertKind::ForecastDrop), $secret, time() - 3600);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $stale->server(), $stale->body)->assertStatus(401);
        $notAnAlert = SignedWebhook::alert(['id' => 'a-1', 'kind' => 'falling'], $secret);
        $this->call('POST', '/sales-forecast/webhook', [], [], [], $notAnAlert->server(), $notAnAlert->body)->assertStatus(422);
        Event::assertDispatchedTimes(ForecastAlertRaised::class, 1);
    }

    public function testTheFakeAnswersCannedAlertsFilteredAndPaged(): void
    {
        // docs: fake alerts
        SalesForecast::fake()->withAlerts([
            SalesForecastFake::alert(AlertKind::BelowRange, ['category' => 'Shoes'], '2025-10'),
            SalesForecastFake::alert(AlertKind::ForecastDrop, [], '2025-11', ['change_pct' => -32.5]),
        ]);
        $this->assertSame(0, Artisan::call('sales-forecast:alerts', ['--kind' => 'forecast_drop']));
        $this->assertStringContainsString('-32.5%', Artisan::output());
        // end docs
        $this->assertStringNotContainsString('below_range', Artisan::output());
        $page = SalesForecast::alerts(group: ['category' => 'Shoes']);
        $this->assertSame(['below_range'], array_map(fn (Alert $a) => $a->kind->value, $page->alerts));
        $first = SalesForecast::alerts(limit: 1);
        $second = SalesForecast::alerts(limit: 1, cursor: $first->nextCursor);
        $this->assertSame([1, 1, null], [count($first), count($second), $second->nextCursor]);
        $this->assertNotSame($first->alerts[0]->id, $second->alerts[0]->id);
        $this->assertCount(0, SalesForecast::alerts(since: '2999-01-01'));
    }

    public function testAlertsThroughHttpFake(): void
    {
        Http::fake(['*/api/v1/alerts*' => Http::response(['alerts' => [
            SalesForecastFake::alert(AlertKind::AboveRange, ['store_id' => 2], '2025-W41', ['frequency' => 'week'])->toArray(),
        ], 'next_cursor' => 'abc', 'limit' => 1])]);
        $page = SalesForecast::alerts(since: new \DateTimeImmutable('2025-10-01T00:00:00+00:00'), kind: AlertKind::AboveRange, group: [], limit: 1);
        $this->assertSame(['abc', 'above_range', 'week', 1300.0], [$page->nextCursor, $page->alerts[0]->kind->value, $page->alerts[0]->frequency, $page->alerts[0]->actual]);
        Http::assertSent(function ($request) {
            parse_str(parse_url($request->url(), PHP_URL_QUERY), $query);
            return $query === ['since' => '2025-10-01T00:00:00+00:00', 'kind' => 'above_range', 'group' => '{}', 'limit' => '1'];
        });
    }
}
