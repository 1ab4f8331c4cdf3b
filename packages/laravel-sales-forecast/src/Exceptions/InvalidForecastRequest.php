<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Exceptions;

use InvalidArgumentException;

/**
 * A request the service would refuse with 422 invalid_request, refused before it is sent: $field
 * names the field as the service's answer would ("horizon", "group_by.1", "inventory.lead_time").
 */
final class InvalidForecastRequest extends InvalidArgumentException implements SalesForecastException
{
    public function __construct(public readonly ?string $field, string $message)
    {
        parent::__construct($field !== null ? "$field: $message" : $message);
    }

    public function errorCode(): string
    {
        return 'invalid_request';
    }
}
