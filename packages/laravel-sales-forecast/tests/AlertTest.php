<?php

declare(strict_types=1);

use Illuminate\Http\Client\Factory;
use Illuminate\Http\Client\Request;
use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\Alert;
use SalesForecast\Laravel\AlertPage;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\ForecastClient;
use SalesForecast\Laravel\Testing\SalesForecastFake;

/** Alerts as the service writes them (docs/api.md §11), read into Alert; GET /api/v1/alerts through the client. */
final class AlertTest extends TestCase
{
    private const BELOW = [
        'id' => '3f2a', 'created_at' => '2025-11-02T03:04:05.123456+00:00', 'series' => ['product_id' => '17'],
        'kind' => 'below_range', 'period' => '2025-10', 'frequency' => 'month', 'measure' => 'revenue', 'task_id' => 't-9',
        'actual' => 60, 'low' => 90.5, 'high' => 110.0, 'level' => 90.0,
    ];

    public function testAnAlertIsReadTyped(): void
    {
        $alert = Alert::fromArray(self::BELOW);
        $this->assertSame([AlertKind::BelowRange, ['product_id' => '17'], 60.0, 90.5, null, false],
            [$alert->kind, $alert->series, $alert->actual, $alert->low, $alert->changePct, $alert->isTotal()]);
        $this->assertSame('2025-11-02 03:04:05', $alert->createdAt->format('Y-m-d H:i:s'));
        $this->assertSame(Alert::fromArray($alert->toArray())->toArray(), $alert->toArray());
        $drop = Alert::fromArray(['series' => [], 'kind' => 'forecast_drop', 'change_pct' => -32.5, 'level' => 90.0] + self::BELOW);
        $this->assertTrue($drop->isTotal());
        $this->assertSame(-32.5, $drop->changePct);
    }

    public function testWhatIsNotAnAlertIsRefused(): void
    {
        foreach ([['kind' => 'falling'] + self::BELOW, array_diff_key(self::BELOW, ['task_id' => 1]), ['created_at' => 'soon'] + self::BELOW] as $bad) {
            try {
                Alert::fromArray($bad);
                $this->fail('accepted: ' . json_encode($bad));
            } catch (UnexpectedValueException) {
                $this->addToAssertionCount(1);
            }
        }
    }

    public function testAlertsSendsTheFiltersAndReadsThePage(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->response(['alerts' => [self::BELOW], 'next_cursor' => 'c2', 'limit' => 1])]);
        $page = (new ForecastClient($http, 'https://forecast.test', 'k'))->alerts('2025-10-01', AlertKind::BelowRange, ['product_id' => '17'], 1, 'c1');
        $this->assertInstanceOf(AlertPage::class, $page);
        $this->assertSame(['c2', 1, 1, '3f2a', true], [$page->nextCursor, $page->limit, count($page), $page->alerts[0]->id, $page->hasMore()]);
        $http->assertSent(function (Request $r) {
            parse_str((string) parse_url($r->url(), PHP_URL_QUERY), $query);
            return $r->method() === 'GET' && str_starts_with($r->url(), 'https://forecast.test/api/v1/alerts?')
                && $query === ['since' => '2025-10-01', 'kind' => 'below_range', 'group' => '{"product_id":"17"}', 'limit' => '1', 'cursor' => 'c1'];
        });
        $this->assertSame(['group' => '{}'], ForecastClient::alertQuery(group: []));
    }

    public function testAllAlertsWalksThePagesAndARefusedFilterNamesTheField(): void
    {
        $http = new Factory();
        $http->fake(['*' => $http->sequence()
            ->push(['alerts' => [self::BELOW], 'next_cursor' => 'c2', 'limit' => 1])
            ->push(['alerts' => [['id' => 'b', 'kind' => 'forecast_drop', 'change_pct' => -20.0] + self::BELOW], 'next_cursor' => null, 'limit' => 1])
            ->push(['status' => 'error', 'error' => ['code' => 'invalid_request', 'message' => 'since: not a date', 'field' => 'since']], 422)]);
        $client = new ForecastClient($http, 'https://forecast.test');
        $this->assertSame(['3f2a', 'b'], $client->allAlerts(pageSize: 1)->map(fn (Alert $a) => $a->id)->all());
        try {
            $client->alerts('yesterday');
            $this->fail('no exception');
        } catch (ApiException $e) {
            $this->assertSame(['invalid_request', 'since'], [$e->errorCode, $e->field]);
        }
    }

    public function testTheFakesAlertsAreFilteredAndPagedNewestFirst(): void
    {
        $fake = (new SalesForecastFake())->withAlerts([
            SalesForecastFake::alert(AlertKind::BelowRange, [], '2025-09', ['created_at' => '2025-10-01T00:00:00+00:00']),
            SalesForecastFake::alert(AlertKind::ForecastDrop, ['category' => 'Bags'], '2025-11', ['created_at' => '2025-11-01T00:00:00+00:00']),
            self::BELOW,
        ]);
        $this->assertSame(['3f2a', 'forecast_drop', 'below_range'], array_map(fn (Alert $a) => $a->id === '3f2a' ? $a->id : $a->kind->value, $fake->alerts()->alerts));
        $this->assertSame(['2025-11'], array_map(fn (Alert $a) => $a->period, $fake->alerts(kind: 'forecast_drop')->alerts));
        $this->assertSame(['2025-09'], array_map(fn (Alert $a) => $a->period, $fake->alerts(group: [])->alerts));
        $this->assertCount(2, $fake->alerts(since: '2025-10-15'));
        $first = $fake->alerts(limit: 2);
        $this->assertSame([2, '2', 1, null], [count($first), $first->nextCursor, count($fake->alerts(limit: 2, cursor: '2')), $fake->alerts(limit: 2, cursor: '2')->nextCursor]);
    }
}
