<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use RuntimeException;

/** wait() gave up before the job finished; the job may still finish later. */
final class ForecastTimeout extends RuntimeException implements SalesForecastException
{
    public function __construct(public readonly string $taskId, float $timeout, public readonly string $lastStatus)
    {
        parent::__construct(sprintf('forecast %s did not finish within %.1fs (last status: %s)', $taskId, $timeout, $lastStatus));
    }

    public function errorCode(): string
    {
        return 'timeout';
    }
}
