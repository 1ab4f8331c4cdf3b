<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

/**
 * A job's stored outcome, `celery-task-meta-<id>` (CONTRACT §6), read the one way:
 *
 *     $result->successful()   // SUCCESS: document(), forecast(), actualSales(), hierarchy()
 *     $result->error()        // FAILURE/REVOKED: ['code' => 'insufficient_history', 'message' => ...]
 *
 * A grouped job (group_by) is the total's single-series document plus data.hierarchy (CONTRACT §8);
 * its per-group series are paged from the web API (SalesForecast::api()->series($id)).
 */
final class ForecastResult
{
    public const FINAL_STATES = ['SUCCESS', 'FAILURE', 'REVOKED'];

    public function __construct(private string $taskId, private array $meta)
    {
    }

    public function taskId(): string
    {
        return $this->taskId;
    }

    /** STARTED, PROGRESS, RETRY, SUCCESS, FAILURE or REVOKED. */
    public function status(): string
    {
        return (string) ($this->meta['status'] ?? 'PENDING');
    }

    public function finished(): bool
    {
        return in_array($this->status(), self::FINAL_STATES, true);
    }

    public function successful(): bool
    {
        return $this->status() === 'SUCCESS';
    }

    /** The result document {"status": "success", "data": {...}} (CONTRACT §5), null unless SUCCESS. */
    public function document(): ?array
    {
        return $this->successful() && is_array($this->meta['result'] ?? null) ? $this->meta['result'] : null;
    }

    /** data.forecast: next_month_forecast, expected_range_low/high, confidence_level, horizon... (the total's, when grouped). */
    public function forecast(): ?array
    {
        return $this->document()['data']['forecast'] ?? null;
    }

    /** data.actual_sales: complete months, oldest first. */
    public function actualSales(): array
    {
        return $this->document()['data']['actual_sales'] ?? [];
    }

    /** data.hierarchy of a grouped forecast (group_by, measure, levels, series, series_url...), else null. */
    public function hierarchy(): ?array
    {
        $hierarchy = $this->document()['data']['hierarchy'] ?? null;
        return is_array($hierarchy) ? $hierarchy : null;
    }

    public function grouped(): bool
    {
        return $this->hierarchy() !== null;
    }

    /**
     * ['code' => ..., 'message' => ...] of a FAILURE or REVOKED job, else null. The code is stable
     * (CONTRACT §7); a failure that is not one of the service's own reads as internal_error.
     */
    public function error(): ?array
    {
        if ($this->status() === 'REVOKED') {
            return ['code' => 'cancelled', 'message' => 'the job was cancelled'];
        }
        if ($this->status() !== 'FAILURE') {
            return null;
        }
        $args = $this->meta['result']['exc_message'] ?? null;
        if (is_array($args) && count($args) >= 2 && is_string($args[0]) && is_string($args[1])) {
            return ['code' => $args[0], 'message' => $args[1]];
        }
        return ['code' => 'internal_error', 'message' => 'the job failed unexpectedly'];
    }

    /** The stored meta as the worker wrote it. */
    public function meta(): array
    {
        return $this->meta;
    }
}
