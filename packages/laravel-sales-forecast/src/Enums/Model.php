<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Enums;

/** The forecasting models the service offers (its MODEL_NAMES); Auto fits several and keeps the best. */
enum Model: string
{
    case Auto = 'auto';
    case Linear = 'linear';
    case SeasonalNaive = 'seasonal_naive';
    case Ets = 'ets';
    case Theta = 'theta';
    case Arima = 'arima';
}
