<?php

declare(strict_types=1);

namespace App\Support;

/**
 * Verifies the forecast service's completion webhooks (Standard Webhooks, v1 HMAC-SHA256).
 *
 *     $ok = ForecastWebhook::verify(
 *         config('services.forecast.webhook_secret'),       // the service's WEBHOOK_SECRET
 *         $request->header('webhook-id'), $request->header('webhook-timestamp'),
 *         $request->header('webhook-signature'), $request->getContent(),  // the RAW body
 *     );
 *
 * The body must be the raw bytes received: re-encoding parsed JSON changes them.
 */
final class ForecastWebhook
{
    public const TOLERANCE_SECONDS = 300;

    /** The HMAC key: a `whsec_<base64>` secret is base64-decoded; any other is used as is. */
    public static function key(string $secret): string
    {
        if (str_starts_with($secret, 'whsec_')) {
            $key = base64_decode(substr($secret, 6), true);
            if ($key === false) {
                throw new \InvalidArgumentException('a whsec_ secret must be base64 after the prefix');
            }
            return $key;
        }
        return $secret;
    }

    public static function verify(
        string $secret,
        ?string $id,
        ?string $timestamp,
        ?string $signatureHeader,
        string $body,
        int $tolerance = self::TOLERANCE_SECONDS,
        ?int $now = null,
    ): bool {
        if (!$id || !$timestamp || !$signatureHeader || !ctype_digit($timestamp)) {
            return false;
        }
        if (abs(($now ?? time()) - (int) $timestamp) > $tolerance) {
            return false;  // too old or from the future: a replay
        }
        $expected = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", self::key($secret), true));
        // Several space-separated signatures may be sent (key rotation): one match is enough.
        foreach (explode(' ', $signatureHeader) as $candidate) {
            if (hash_equals($expected, $candidate)) {
                return true;
            }
        }
        return false;
    }
}
