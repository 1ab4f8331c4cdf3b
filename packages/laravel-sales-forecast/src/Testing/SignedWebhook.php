<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Testing;

use Illuminate\Http\Request;
use SalesForecast\Laravel\ForecastResult;
use SalesForecast\Laravel\WebhookSignature;

/**
 * A completion webhook as the service sends it, signed, for an app's tests:
 *
 *     $webhook = SignedWebhook::of(SalesForecastFake::success()->withTaskId('t-1'), config('sales-forecast.webhook.secret'));
 *     $this->call('POST', route('sales-forecast.webhook'), [], [], [], $webhook->server(), $webhook->body);
 *
 * The body must go as raw bytes ($this->call's last argument): postJson() would re-encode it and
 * the signature would no longer match.
 */
final class SignedWebhook
{
    /** @param array<string, string> $headers */
    private function __construct(public readonly string $body, public readonly array $headers)
    {
    }

    /** $result's status document, signed with $secret at $timestamp (default: now). */
    public static function of(ForecastResult|array $result, string $secret, ?int $timestamp = null): self
    {
        $document = $result instanceof ForecastResult ? $result->toArray() : $result;
        $body = json_encode($document, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
        return new self($body, WebhookSignature::headers($secret, (string) ($document['task_id'] ?? ''), $body, $timestamp));
    }

    /** The headers as $_SERVER entries (HTTP_WEBHOOK_ID...), for $this->call() in a Laravel test. */
    public function server(): array
    {
        $server = [];
        foreach ($this->headers as $name => $value) {
            $key = strtoupper(str_replace('-', '_', $name));
            $server[$key === 'CONTENT_TYPE' ? $key : "HTTP_$key"] = $value;
        }
        return $server;
    }

    /** The request itself, for $app->handle() or a middleware under test. */
    public function request(string $uri = '/sales-forecast/webhook'): Request
    {
        return Request::create($uri, 'POST', [], [], [], $this->server(), $this->body);
    }
}
