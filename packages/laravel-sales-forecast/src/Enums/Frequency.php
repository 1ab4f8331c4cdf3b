<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Enums;

/** The period a forecast is made in; it bounds the horizon. */
enum Frequency: string
{
    case Month = 'month';
    case Week = 'week';
    case Day = 'day';

    /** The longest horizon the service accepts at this frequency (two years of months or weeks, a year of days). */
    public function maxHorizon(): int
    {
        return match ($this) {
            self::Month => 24,
            self::Week => 104,
            self::Day => 366,
        };
    }
}
