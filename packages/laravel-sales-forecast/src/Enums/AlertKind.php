<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Enums;

/** What an alert says (docs/api.md §11). */
enum AlertKind: string
{
    /** A complete period's actual fell below the interval of the forecast published for it. */
    case BelowRange = 'below_range';
    /** A complete period's actual rose above that interval. */
    case AboveRange = 'above_range';
    /** The forecast for the next periods fell more than ALERT_DROP_PCT against a year before. */
    case ForecastDrop = 'forecast_drop';
}
