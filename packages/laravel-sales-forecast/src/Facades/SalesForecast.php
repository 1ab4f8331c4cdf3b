<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Facades;

use Illuminate\Support\Facades\Facade;

/**
 * @method static string dispatch(array $kwargs = [], ?string $taskId = null)
 * @method static \SalesForecast\Laravel\ForecastResult|null result(string $taskId)
 * @method static \SalesForecast\Laravel\ForecastResult wait(string $taskId, float $timeout = 60.0)
 * @method static \SalesForecast\Laravel\ForecastDispatcher dispatcher(?string $connection = null)
 * @method static \SalesForecast\Laravel\ForecastClient api()
 *
 * @see \SalesForecast\Laravel\SalesForecast
 */
final class SalesForecast extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return \SalesForecast\Laravel\SalesForecast::class;
    }
}
