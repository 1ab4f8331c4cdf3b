<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use InvalidArgumentException;

/**
 * Standard Webhooks (standardwebhooks.com) v1 signatures, as the forecast service signs its
 * completion webhooks: `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{raw body}")).
 */
final class WebhookSignature
{
    /** The HMAC key: a `whsec_<base64>` secret is base64-decoded; any other is used as is. */
    public static function key(string $secret): string
    {
        if ($secret === '') {
            throw new InvalidArgumentException('the webhook secret is empty: set SALES_FORECAST_WEBHOOK_SECRET to the service\'s WEBHOOK_SECRET');
        }
        if (str_starts_with($secret, 'whsec_')) {
            $key = base64_decode(substr($secret, 6), true);
            if ($key === false) {
                throw new InvalidArgumentException('a whsec_ secret must be base64 after the prefix');
            }
            return $key;
        }
        return $secret;
    }

    public static function sign(string $secret, string $id, int $timestamp, string $body): string
    {
        return 'v1,' . base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", self::key($secret), true));
    }

    /**
     * The headers the service sends with $body, signed with $secret: for tests that post a
     * completion webhook to the app (Testing\SignedWebhook builds the whole request).
     *
     * @return array{webhook-id: string, webhook-timestamp: string, webhook-signature: string, content-type: string}
     */
    public static function headers(string $secret, string $id, string $body, ?int $timestamp = null): array
    {
        $timestamp ??= time();
        return [
            'webhook-id' => $id,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => self::sign($secret, $id, $timestamp, $body),
            'content-type' => 'application/json',
        ];
    }

    /** Whether $body (the RAW bytes received) was signed with $secret within $tolerance seconds of now. */
    public static function verify(
        string $secret,
        ?string $id,
        ?string $timestamp,
        ?string $signatureHeader,
        string $body,
        int $tolerance = 300,
        ?int $now = null,
    ): bool {
        if (!$id || !$timestamp || !$signatureHeader || !ctype_digit($timestamp)) {
            return false;
        }
        if (abs(($now ?? time()) - (int) $timestamp) > $tolerance) {
            return false;  // too old or from the future: a replay
        }
        $expected = self::sign($secret, $id, (int) $timestamp, $body);
        // Several space-separated signatures may be sent (key rotation): one match is enough.
        foreach (explode(' ', $signatureHeader) as $candidate) {
            if (hash_equals($expected, $candidate)) {
                return true;
            }
        }
        return false;
    }
}
