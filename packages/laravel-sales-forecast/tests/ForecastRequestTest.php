<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\Enums\Frequency;
use SalesForecast\Laravel\Enums\Measure;
use SalesForecast\Laravel\Enums\Model;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\Exceptions\SalesForecastException;
use SalesForecast\Laravel\ForecastRequest;

/** The builder refuses what the service's 422 refuses, naming the same field. */
final class ForecastRequestTest extends TestCase
{
    public function testEveryFieldBuildsTheServicesBody(): void
    {
        $request = ForecastRequest::make()->between('2024-01-01', new DateTimeImmutable('2025-12-31'))->status('completed')
            ->horizon(12)->level(80)->model(Model::Ets)->callbackUrl('https://shop.test/sales-forecast/webhook')->refresh()
            ->groupBy('category', 'product_id')->measure(Measure::Units)->frequency(Frequency::Week)->holidays('US-CA')
            ->event('Summer sale', '2025-07-01', '2025-07-14')->inventory(2, 1, 97.5);
        $this->assertSame([
            'start_date' => '2024-01-01', 'end_date' => '2025-12-31', 'status' => 'completed', 'horizon' => 12, 'level' => 80,
            'model' => 'ets', 'callback_url' => 'https://shop.test/sales-forecast/webhook', 'refresh' => true,
            'group_by' => ['category', 'product_id'], 'measure' => 'units', 'frequency' => 'week', 'holidays' => 'US-CA',
            'events' => [['name' => 'Summer sale', 'start' => '2025-07-01', 'end' => '2025-07-14']],
            'inventory' => ['lead_time' => 2, 'review_period' => 1, 'service_level' => 97.5],
        ], $request->validate()->toArray());
        $this->assertSame($request->toArray(), ForecastRequest::fromArray($request->toArray())->toArray());
        $this->assertSame('{}', json_encode(ForecastRequest::make()));
        $this->assertSame([], ForecastRequest::make()->holidays([])->get('holidays'));
        // What the service reads leniently is read the same way: numeric strings, padded group fields.
        $this->assertSame(['horizon' => 6, 'level' => 80, 'group_by' => ['category'], 'status' => 'completed'],
            ForecastRequest::fromArray(['horizon' => '6', 'level' => '80', 'group_by' => [' category'], 'status' => ' completed '])->toArray());
    }

    public static function refused(): array
    {
        return [
            'horizon too long' => [['horizon' => 25], 'horizon'],
            'weekly horizon too long' => [['horizon' => 105, 'frequency' => 'week'], 'horizon'],
            'horizon not whole' => [['horizon' => 3.5], 'horizon'],
            'horizon a bool' => [['horizon' => true], 'horizon'],
            'level too low' => [['level' => 20], 'level'],
            'level a bool' => [['level' => true], 'level'],
            'a typo' => [['horizn' => 3], 'horizn'],
            'unknown model' => [['model' => 'prophet'], 'model'],
            'padded model' => [['model' => ' ets '], 'model'],
            'horizon not a number' => [['horizon' => 'six'], 'horizon'],
            'unknown measure' => [['measure' => 'profit'], 'measure'],
            'unknown frequency' => [['frequency' => 'year'], 'frequency'],
            'bad date' => [['start_date' => '2025-02-30'], 'start_date'],
            'dates reversed' => [['start_date' => '2025-02-01', 'end_date' => '2025-01-01'], 'start_date'],
            'year out of range' => [['end_date' => '1969-12-31'], 'end_date'],
            'bad status' => [['status' => 'paid now'], 'status'],
            'refresh not a bool' => [['refresh' => 'yes'], 'refresh'],
            'group field' => [['group_by' => ['category', '1x']], 'group_by.1'],
            'group field twice' => [['group_by' => ['sku', 'sku']], 'group_by'],
            'four group fields' => [['group_by' => ['a', 'b', 'c', 'd']], 'group_by'],
            'callback not http' => [['callback_url' => 'ftp://shop.test/x'], 'callback_url'],
            'callback credentials' => [['callback_url' => 'https://u:p@shop.test/x'], 'callback_url'],
            'holidays' => [['holidays' => 'usa'], 'holidays'],
            'event without start' => [['events' => [['name' => 'Sale']]], 'events.0.start'],
            'event ends first' => [['events' => [['name' => 'Sale', 'start' => '2025-07-02', 'end' => '2025-07-01']]], 'events.0.end'],
            'too many events' => [['events' => array_fill(0, 501, ['name' => 'x', 'start' => '2025-01-01'])], 'events'],
            'lead time' => [['inventory' => ['lead_time' => 53]], 'inventory.lead_time'],
            'review period' => [['inventory' => ['lead_time' => 1, 'review_period' => 0]], 'inventory.review_period'],
            'service level' => [['inventory' => ['lead_time' => 1, 'service_level' => 100]], 'inventory.service_level'],
            'inventory field' => [['inventory' => ['lead_time' => 1, 'safety' => 2]], 'inventory.safety'],
        ];
    }

    public function testWhatTheServiceRefusesIsRefusedNamingTheField(): void
    {
        foreach (self::refused() as $case => [$fields, $field]) {
            try {
                ForecastRequest::fromArray($fields);
                $this->fail("accepted: $case");
            } catch (InvalidForecastRequest $e) {
                $this->assertSame($field, $e->field, $case . ': ' . $e->getMessage());
                $this->assertInstanceOf(SalesForecastException::class, $e);
                $this->assertSame('invalid_request', $e->errorCode());
            }
        }
    }
}
