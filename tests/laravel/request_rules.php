<?php

// Reads a JSON list of request bodies on stdin; prints, for each, what the package's
// ForecastRequest makes of it: {"ok": true, "body": {...}} or {"ok": false, "field": ...}.
require __DIR__ . '/../../packages/laravel-sales-forecast/tests/bootstrap.php';

use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;
use SalesForecast\Laravel\ForecastRequest;

$out = [];
foreach (json_decode(stream_get_contents(STDIN), true, 64, JSON_THROW_ON_ERROR) as $body) {
    try {
        $out[] = ['ok' => true, 'body' => ForecastRequest::fromArray(is_array($body) ? $body : [])->jsonSerialize()];
    } catch (InvalidForecastRequest $e) {
        $out[] = ['ok' => false, 'field' => $e->field];
    }
}
echo json_encode($out, JSON_PRESERVE_ZERO_FRACTION);
