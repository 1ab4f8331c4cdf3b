<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use DateTimeImmutable;
use SalesForecast\Laravel\Enums\AlertKind;
use UnexpectedValueException;

/**
 * One alert of the forecast history (docs/api.md §11), as GET /api/v1/alerts lists it and a
 * `forecast.alert` webhook carries it: a series' actual outside the interval published for its
 * period (below_range, above_range), or its outlook falling (forecast_drop).
 *
 *     $alert->kind            // AlertKind::BelowRange...
 *     $alert->series          // the group key: ['category' => 'Shoes'], [] for the shop's total
 *     $alert->period          // '2025-10', '2025-W41' or '2025-10-07', in $alert->frequency
 *     $alert->actual, $alert->low, $alert->high, $alert->level   // range alerts
 *     $alert->changePct       // forecast_drop: e.g. -32.5
 *
 * The id is stable: the same alert (a rerun, a retried delivery) always has the same id.
 */
final class Alert
{
    /** @param array<string, string|null> $series */
    public function __construct(
        public readonly string $id,
        public readonly DateTimeImmutable $createdAt,
        public readonly array $series,
        public readonly AlertKind $kind,
        public readonly string $period,
        public readonly string $frequency,
        public readonly string $measure,
        public readonly string $taskId,
        public readonly ?float $actual = null,
        public readonly ?float $low = null,
        public readonly ?float $high = null,
        public readonly ?float $level = null,
        public readonly ?float $changePct = null,
    ) {
    }

    /**
     * From the service's JSON (an item of GET /api/v1/alerts, a webhook's `data`).
     *
     * @throws UnexpectedValueException when it is not an alert
     */
    public static function fromArray(array $alert): self
    {
        foreach (['id', 'created_at', 'kind', 'period', 'frequency', 'measure', 'task_id'] as $field) {
            if (!is_string($alert[$field] ?? null)) {
                throw new UnexpectedValueException("not an alert: '$field' is missing");
            }
        }
        $kind = AlertKind::tryFrom($alert['kind']) ?? throw new UnexpectedValueException("not an alert: unknown kind '{$alert['kind']}'");
        try {
            $createdAt = new DateTimeImmutable($alert['created_at']);
        } catch (\Exception $e) {
            throw new UnexpectedValueException("not an alert: created_at '{$alert['created_at']}'", 0, $e);
        }
        $number = fn (string $field) => is_int($alert[$field] ?? null) || is_float($alert[$field] ?? null) ? (float) $alert[$field] : null;
        return new self(
            $alert['id'], $createdAt, is_array($alert['series'] ?? null) ? $alert['series'] : [], $kind,
            $alert['period'], $alert['frequency'], $alert['measure'], $alert['task_id'],
            $number('actual'), $number('low'), $number('high'), $number('level'), $number('change_pct'),
        );
    }

    /** The total (series {}), not a group's series. */
    public function isTotal(): bool
    {
        return $this->series === [];
    }

    /** The service's JSON shape; figures that do not apply to the kind are left out. */
    public function toArray(): array
    {
        return array_filter([
            'id' => $this->id,
            'created_at' => $this->createdAt->format(DATE_RFC3339_EXTENDED),
            'series' => $this->series,
            'kind' => $this->kind->value,
            'period' => $this->period,
            'frequency' => $this->frequency,
            'measure' => $this->measure,
            'task_id' => $this->taskId,
            'actual' => $this->actual,
            'low' => $this->low,
            'high' => $this->high,
            'level' => $this->level,
            'change_pct' => $this->changePct,
        ], fn ($v) => $v !== null);
    }
}
