<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Facades;

use Closure;
use Illuminate\Support\Facades\Facade;
use SalesForecast\Laravel\Contracts\SalesForecast as Contract;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\Testing\SalesForecastFake;

/**
 * @method static string dispatch(\SalesForecast\Laravel\ForecastRequest|array $request = [], ?string $taskId = null, ?bool $afterCommit = null)
 * @method static \SalesForecast\Laravel\ForecastResult|null result(string $taskId)
 * @method static \SalesForecast\Laravel\ForecastResult wait(string $taskId, float $timeout = 60.0)
 * @method static \SalesForecast\Laravel\ForecastDispatcher dispatcher(?string $connection = null)
 * @method static \SalesForecast\Laravel\ForecastClient api()
 * @method static \SalesForecast\Laravel\AlertPage alerts(\DateTimeInterface|string|null $since = null, \SalesForecast\Laravel\Enums\AlertKind|string|null $kind = null, ?array $group = null, ?int $limit = null, ?string $cursor = null)
 * @method static \Illuminate\Support\Collection<int, \SalesForecast\Laravel\SuggestedOrder> suggestedOrders(string $taskId, ?int $limit = null, string $sort = 'key')
 * @method static void assertDispatched(?Closure $callback = null, ?int $times = null)
 * @method static void assertNotDispatched(?Closure $callback = null)
 * @method static void assertNothingDispatched()
 * @method static void assertSuggestedOrdersRead(?string $taskId = null, ?int $times = null)
 *
 * @see \SalesForecast\Laravel\SalesForecast
 * @see \SalesForecast\Laravel\Testing\SalesForecastFake
 */
final class SalesForecast extends Facade
{
    /**
     * Replace the service in the container by a fake that records what is dispatched and answers
     * every job with $result: a ForecastResult (SalesForecastFake::success(), failure(), grouped()),
     * a Closure(ForecastRequest, string $taskId): ForecastResult, or null for a canned success.
     */
    public static function fake(ForecastResult|Closure|null $result = null): SalesForecastFake
    {
        $real = static::getFacadeApplication()->make(\SalesForecast\Laravel\SalesForecast::class);
        static::swap($fake = new SalesForecastFake($real, $result));
        return $fake;
    }

    protected static function getFacadeAccessor(): string
    {
        return Contract::class;
    }
}
