<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Support\Sleep;
use SalesForecast\Laravel\Exceptions\ForecastTimeout;

/**
 * The one polling loop behind wait(): read, and sleep between reads through Laravel's Sleep
 * (Laravel 10+), so a test that calls Sleep::fake() waits for nothing; on Laravel 8, usleep().
 * The time slept is counted as well as the clock: with Sleep faked the loop still ends.
 */
final class Poll
{
    /**
     * @param callable(): ?ForecastResult $read
     * @throws ForecastTimeout when $timeout seconds pass first (the job may still finish later)
     */
    public static function until(callable $read, string $taskId, float $timeout, float $interval): ForecastResult
    {
        $interval = max(0.01, $interval);
        $deadline = microtime(true) + $timeout;
        $slept = 0.0;
        while (true) {
            $result = $read();
            if ($result !== null && $result->finished()) {
                return $result;
            }
            if (microtime(true) >= $deadline || $slept >= $timeout) {
                throw new ForecastTimeout($taskId, $timeout, $result?->status() ?? 'PENDING');
            }
            self::sleep($interval);
            $slept += $interval;
        }
    }

    public static function sleep(float $seconds): void
    {
        if (class_exists(Sleep::class)) {
            Sleep::usleep((int) round($seconds * 1e6));
        } else {
            usleep((int) round($seconds * 1e6));
        }
    }
}
