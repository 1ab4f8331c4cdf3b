<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use ArrayAccess;
use JsonSerializable;
use LogicException;

/**
 * Why a job failed, the one shape wherever it is read (the result key, the web API, a webhook):
 * the service's stable code (invalid_request, insufficient_history, upstream_unavailable,
 * cancelled, internal_error...), a message for people, and the field at fault when there is one.
 * Readable as an array too ($error['code']), as earlier versions returned it.
 */
final class ForecastError implements ArrayAccess, JsonSerializable
{
    public function __construct(
        public readonly string $code,
        public readonly string $message,
        public readonly ?string $field = null,
    ) {
    }

    /** ['code' => ..., 'message' => ..., 'field' => ...] from a status document's error, or null. */
    public static function fromArray(mixed $error): ?self
    {
        if (!is_array($error) || !is_string($error['code'] ?? null)) {
            return null;
        }
        return new self($error['code'], (string) ($error['message'] ?? ''), isset($error['field']) ? (string) $error['field'] : null);
    }

    /** @return array{code: string, message: string, field: ?string} */
    public function toArray(): array
    {
        return ['code' => $this->code, 'message' => $this->message, 'field' => $this->field];
    }

    public function jsonSerialize(): array
    {
        return $this->toArray();
    }

    public function offsetExists(mixed $offset): bool
    {
        return in_array($offset, ['code', 'message', 'field'], true) && $this->toArray()[$offset] !== null;
    }

    public function offsetGet(mixed $offset): mixed
    {
        return $this->toArray()[$offset] ?? null;
    }

    public function offsetSet(mixed $offset, mixed $value): void
    {
        throw new LogicException('a ForecastError is read-only');
    }

    public function offsetUnset(mixed $offset): void
    {
        throw new LogicException('a ForecastError is read-only');
    }
}
