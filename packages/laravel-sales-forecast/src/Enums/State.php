<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Enums;

/** A job's state, as the result key and GET /api/v1/forecasts/{id} name it. */
enum State: string
{
    case Pending = 'PENDING';
    case Started = 'STARTED';
    case Progress = 'PROGRESS';
    case Retry = 'RETRY';
    case Success = 'SUCCESS';
    case Failure = 'FAILURE';
    case Revoked = 'REVOKED';

    /** SUCCESS, FAILURE and REVOKED: the job will not change again. */
    public function finished(): bool
    {
        return in_array($this, [self::Success, self::Failure, self::Revoked], true);
    }

    /** An unknown state reads as PENDING (a newer service's state this package does not know yet). */
    public static function read(mixed $value): self
    {
        return is_string($value) ? (self::tryFrom($value) ?? self::Pending) : self::Pending;
    }
}
