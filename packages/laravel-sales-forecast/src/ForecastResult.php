<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use SalesForecast\Laravel\Enums\State;

/**
 * A job's status and outcome, the one object wherever it is read: the result key in Redis
 * (SalesForecast::result(), wait()), the web API (SalesForecast::api()->status(), wait(), submit())
 * and a completion webhook (the ForecastFinished, ForecastSucceeded and ForecastFailed events).
 *
 *     $result->successful()   // SUCCESS: document(), forecast(), nextPeriodForecast(), actualSales(), hierarchy()
 *     $result->error()        // FAILURE/REVOKED: a ForecastError (code, message, field)
 *     $result->state()        // the State enum; status() is its string
 *
 * A grouped job (group_by) is the total's single-series document plus data.hierarchy; its
 * per-group series are paged from the web API (SalesForecast::api()->series($id)).
 */
final class ForecastResult
{
    public const FINAL_STATES = ['SUCCESS', 'FAILURE', 'REVOKED'];

    private State $state;
    private ?array $document;
    private ?ForecastError $error;
    private ?array $progress;
    private array $raw;

    /** From the result key `celery-task-meta-<id>` as the worker wrote it (docs/laravel.md, "The result"). */
    public function __construct(private string $taskId, array $meta)
    {
        $this->raw = $meta;
        $this->state = State::read($meta['status'] ?? null);
        $result = $meta['result'] ?? null;
        $this->document = $this->state === State::Success && is_array($result) ? $result : null;
        $this->progress = $this->state === State::Progress && is_array($result) ? $result : null;
        $this->error = match ($this->state) {
            State::Revoked => new ForecastError('cancelled', 'the job was cancelled'),
            State::Failure => self::failureOf($result),
            default => null,
        };
    }

    public static function fromMeta(string $taskId, array $meta): self
    {
        return new self($taskId, $meta);
    }

    /** From a status document: GET /api/v1/forecasts/{id}, a completion webhook's body, POST's answer. */
    public static function fromStatus(array $status): self
    {
        $result = new self((string) ($status['task_id'] ?? ''), []);
        $result->raw = $status;
        $result->state = State::read($status['status'] ?? null);
        $result->document = $result->state === State::Success && is_array($status['result'] ?? null) ? $status['result'] : null;
        $result->progress = is_array($status['progress'] ?? null) ? $status['progress'] : null;
        $result->error = ForecastError::fromArray($status['error'] ?? null)
            ?? ($result->state === State::Revoked ? new ForecastError('cancelled', 'the job was cancelled') : null)
            ?? ($result->state === State::Failure ? new ForecastError('internal_error', 'the job failed unexpectedly') : null);
        return $result;
    }

    /** A result made in code (testing fakes): a document when SUCCESS, an error when FAILURE. */
    public static function make(string $taskId, State $state, ?array $document = null, ?ForecastError $error = null): self
    {
        $result = new self($taskId, []);
        $result->state = $state;
        $result->document = $state === State::Success ? $document : null;
        $result->error = $error ?? ($state === State::Revoked ? new ForecastError('cancelled', 'the job was cancelled') : null);
        $result->raw = $result->toArray();
        return $result;
    }

    /** The same result under another task id (fakes hand one canned result to every job). */
    public function withTaskId(string $taskId): self
    {
        $copy = clone $this;
        $copy->taskId = $taskId;
        if (isset($copy->raw['task_id'])) {
            $copy->raw['task_id'] = $taskId;
        }
        return $copy;
    }

    public function taskId(): string
    {
        return $this->taskId;
    }

    public function state(): State
    {
        return $this->state;
    }

    /** PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE or REVOKED. */
    public function status(): string
    {
        return $this->state->value;
    }

    public function finished(): bool
    {
        return $this->state->finished();
    }

    public function successful(): bool
    {
        return $this->state === State::Success;
    }

    /** FAILURE or REVOKED: error() says why. */
    public function failed(): bool
    {
        return $this->error !== null;
    }

    /** The result document {"status": "success", "data": {...}}, null unless SUCCESS. */
    public function document(): ?array
    {
        return $this->document;
    }

    /** data.forecast: next_period_forecast, frequency, expected_range_low/high, confidence_level, horizon... (the total's, when grouped). */
    public function forecast(): ?array
    {
        $forecast = $this->document['data']['forecast'] ?? null;
        return is_array($forecast) ? $forecast : null;
    }

    /**
     * The next period's forecast, in the job's frequency (month, week or day): next_period_forecast,
     * or next_month_forecast from a monthly result written before every frequency had the former.
     */
    public function nextPeriodForecast(): ?float
    {
        $forecast = $this->forecast() ?? [];
        $value = $forecast['next_period_forecast'] ?? $forecast['next_month_forecast'] ?? null;
        return is_int($value) || is_float($value) ? (float) $value : null;
    }

    /**
     * data.data_quality's period in progress (reported, never trained on): partial_period (period,
     * start, end, total_sales, transaction_count, days_elapsed, days_in_period) for every frequency,
     * or partial_month (period, total_sales, transaction_count) from an older monthly result; null
     * when there is none.
     */
    public function partialPeriod(): ?array
    {
        $quality = $this->document['data']['data_quality'] ?? null;
        $partial = is_array($quality) ? ($quality['partial_period'] ?? $quality['partial_month'] ?? null) : null;
        return is_array($partial) ? $partial : null;
    }

    /** data.actual_sales: complete periods, oldest first. */
    public function actualSales(): array
    {
        $actual = $this->document['data']['actual_sales'] ?? null;
        return is_array($actual) ? $actual : [];
    }

    /** data.hierarchy of a grouped forecast (group_by, measure, levels, series, series_url...), else null. */
    public function hierarchy(): ?array
    {
        $hierarchy = $this->document['data']['hierarchy'] ?? null;
        return is_array($hierarchy) ? $hierarchy : null;
    }

    public function grouped(): bool
    {
        return $this->hierarchy() !== null;
    }

    /**
     * Why a FAILURE or REVOKED job ended, else null. The code is stable; a failure that is not one
     * of the service's own (a worker lost mid-job) reads as internal_error.
     */
    public function error(): ?ForecastError
    {
        return $this->error;
    }

    /** ['stage' => 'fitting', 'percent' => 60] while the job runs, when the service said. */
    public function progress(): ?array
    {
        return $this->progress;
    }

    /** What was read, as it was: the result key's meta, or the status document. */
    public function meta(): array
    {
        return $this->raw;
    }

    /** The status document shape: task_id, status, progress, result, error. */
    public function toArray(): array
    {
        return [
            'task_id' => $this->taskId,
            'status' => $this->status(),
            'progress' => $this->progress,
            'result' => $this->document,
            'error' => $this->error?->toArray(),
        ];
    }

    private static function failureOf(mixed $result): ForecastError
    {
        $args = is_array($result) ? ($result['exc_message'] ?? null) : null;
        if (is_array($args) && count($args) >= 2 && is_string($args[0]) && is_string($args[1])) {
            return new ForecastError($args[0], $args[1], isset($args[2]) && is_string($args[2]) ? $args[2] : null);
        }
        return new ForecastError('internal_error', 'the job failed unexpectedly');
    }
}
