<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use RuntimeException;

/**
 * The web API answered with an error: its stable code (invalid_request, unauthorized,
 * not_found, broker_unavailable...), the HTTP status, and the field at fault when it names one.
 */
final class ApiException extends RuntimeException implements SalesForecastException
{
    public function __construct(
        public readonly string $errorCode,
        string $message,
        public readonly int $status,
        public readonly ?string $field = null,
    ) {
        parent::__construct("$errorCode: $message (HTTP $status)", $status);
    }

    public function errorCode(): string
    {
        return $this->errorCode;
    }

    /** The same error as a ForecastError (code, message, field), as results and events carry it. */
    public function error(): \SalesForecast\Laravel\ForecastError
    {
        return new \SalesForecast\Laravel\ForecastError($this->errorCode, $this->getMessage(), $this->field);
    }
}
