<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

/**
 * One page of GET /api/v1/alerts, newest first: $alerts, and $nextCursor for the next page
 * (null on the last), to pass back as alerts(cursor: $page->nextCursor).
 */
final class AlertPage implements \IteratorAggregate, \Countable
{
    /** @param list<Alert> $alerts */
    public function __construct(public readonly array $alerts, public readonly ?string $nextCursor, public readonly int $limit)
    {
    }

    public static function fromArray(array $page): self
    {
        return new self(
            array_values(array_map(fn (array $a) => Alert::fromArray($a), array_filter($page['alerts'] ?? [], 'is_array'))),
            is_string($page['next_cursor'] ?? null) ? $page['next_cursor'] : null,
            (int) ($page['limit'] ?? count($page['alerts'] ?? [])),
        );
    }

    public function hasMore(): bool
    {
        return $this->nextCursor !== null;
    }

    /** @return \ArrayIterator<int, Alert> */
    public function getIterator(): \ArrayIterator
    {
        return new \ArrayIterator($this->alerts);
    }

    public function count(): int
    {
        return count($this->alerts);
    }
}
