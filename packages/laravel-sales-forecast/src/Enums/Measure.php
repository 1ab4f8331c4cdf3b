<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Enums;

/** What a forecast sums over the sale lines: line totals, quantities, or distinct sales. */
enum Measure: string
{
    case Revenue = 'revenue';
    case Units = 'units';
    case Orders = 'orders';
}
