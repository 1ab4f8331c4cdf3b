<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Events;

use SalesForecast\Laravel\ForecastError;
use SalesForecast\Laravel\ForecastResult;

/**
 * A verified completion webhook, whatever its outcome; then ForecastSucceeded or ForecastFailed
 * is dispatched for the same delivery. $result is the job's ForecastResult, as SalesForecast::result()
 * and the web API give it. The same delivery may arrive more than once (retries): dedupe on $webhookId.
 */
final class ForecastFinished
{
    public readonly string $taskId;
    /** SUCCESS, FAILURE or REVOKED */
    public readonly string $status;
    /** Why a FAILURE or REVOKED job ended (code, message, field), else null */
    public readonly ?ForecastError $error;

    public function __construct(
        public readonly string $webhookId,
        public readonly ForecastResult $result,
        public readonly array $payload,        // the status document as received
    ) {
        $this->taskId = $result->taskId();
        $this->status = $result->status();
        $this->error = $result->error();
    }

    public function successful(): bool
    {
        return $this->result->successful();
    }
}
