<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\ForecastResult;

final class ForecastResultTest extends TestCase
{
    private const FORECAST = ['next_month_forecast' => 1500.0, 'horizon' => []];

    public function testASingleSeriesSuccess(): void
    {
        $result = new ForecastResult('t', ['status' => 'SUCCESS', 'result' => ['status' => 'success', 'data' => [
            'actual_sales' => [['period' => '2025-01', 'total_sales' => 10.0]], 'forecast' => self::FORECAST,
        ]]]);
        $this->assertTrue($result->finished() && $result->successful());
        $this->assertSame(self::FORECAST, $result->forecast());
        $this->assertSame('2025-01', $result->actualSales()[0]['period']);
        $this->assertNull($result->hierarchy());
        $this->assertFalse($result->grouped());
        $this->assertNull($result->error());
    }

    public function testAGroupedSuccessIsTheTotalPlusItsHierarchy(): void
    {
        $hierarchy = ['group_by' => ['store_id'], 'levels' => [['fields' => ['store_id'], 'series' => 2]], 'series' => 3];
        $result = new ForecastResult('t', ['status' => 'SUCCESS', 'result' => ['status' => 'success', 'data' => [
            'actual_sales' => [], 'forecast' => self::FORECAST, 'hierarchy' => $hierarchy,
        ]]]);
        $this->assertTrue($result->grouped());
        $this->assertSame($hierarchy, $result->hierarchy());
        $this->assertSame(1500.0, $result->forecast()['next_month_forecast']);
    }

    public function testTheNextPeriodAndThePeriodInProgressUnderEveryFrequencysNames(): void
    {
        $weekly = ForecastResult::fromStatus(['task_id' => 't', 'status' => 'SUCCESS', 'result' => ['status' => 'success', 'data' => [
            'forecast' => ['next_period_forecast' => 42.5, 'frequency' => 'week'],
            'data_quality' => ['partial_period' => ['period' => '2025-W43', 'total_sales' => 12.0]],
        ]]]);
        $this->assertSame(42.5, $weekly->nextPeriodForecast());
        $this->assertSame('2025-W43', $weekly->partialPeriod()['period']);
        // A monthly result of a service before every frequency had the new names: read under the old ones.
        $older = new ForecastResult('t', ['status' => 'SUCCESS', 'result' => ['status' => 'success', 'data' => [
            'forecast' => self::FORECAST, 'data_quality' => ['partial_month' => ['period' => '2025-11', 'total_sales' => 80.0]],
        ]]]);
        $this->assertSame(1500.0, $older->nextPeriodForecast());
        $this->assertSame('2025-11', $older->partialPeriod()['period']);
        $this->assertNull((new ForecastResult('t', ['status' => 'PROGRESS']))->nextPeriodForecast());
    }

    public function testFailuresReadTheirStableCode(): void
    {
        $failed = new ForecastResult('t', ['status' => 'FAILURE', 'result' => [
            'exc_type' => 'InvalidRequest', 'exc_message' => ['invalid_request', 'horizon: too large'],
        ]]);
        $this->assertSame(['code' => 'invalid_request', 'message' => 'horizon: too large', 'field' => null], $failed->error()->toArray());
        $this->assertSame('invalid_request', $failed->error()['code']);  // read as an array, as before
        $this->assertNull($failed->document());
        $lost = new ForecastResult('t', ['status' => 'FAILURE', 'result' => ['exc_type' => 'WorkerLostError', 'exc_message' => ['lost']]]);
        $this->assertSame('internal_error', $lost->error()['code']);
        $this->assertSame('cancelled', (new ForecastResult('t', ['status' => 'REVOKED']))->error()['code']);
    }

    public function testARunningJobIsNotFinished(): void
    {
        $running = new ForecastResult('t', ['status' => 'PROGRESS', 'result' => ['stage' => 'fitting', 'percent' => 60]]);
        $this->assertFalse($running->finished());
        $this->assertNull($running->forecast());
        $this->assertNull($running->error());
    }
}
