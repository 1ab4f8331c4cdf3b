<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Events;

/**
 * A verified completion webhook: the job's status document as GET /api/v1/forecasts/{id} gives it.
 * The same delivery may arrive more than once (retries): dedupe on $webhookId.
 */
final class ForecastFinished
{
    public function __construct(
        public readonly string $webhookId,
        public readonly string $taskId,
        public readonly string $status,        // SUCCESS, FAILURE or REVOKED
        public readonly ?array $result,        // the result document (CONTRACT §5) when SUCCESS
        public readonly ?array $error,         // ['code', 'message'] when FAILURE or REVOKED
        public readonly array $payload,        // the whole status document
    ) {
    }

    public function successful(): bool
    {
        return $this->status === 'SUCCESS';
    }
}
