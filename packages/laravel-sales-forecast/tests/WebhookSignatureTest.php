<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\WebhookSignature;

final class WebhookSignatureTest extends TestCase
{
    private const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';  // the Standard Webhooks spec's example

    public function testTheSpecificationsExampleVerifies(): void
    {
        // https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
        $body = '{"test": 2432232314}';
        $signature = WebhookSignature::sign(self::SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, $body);
        $this->assertSame('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', $signature);
        $this->assertTrue(WebhookSignature::verify(self::SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', $signature, $body, 300, 1614265330));
    }

    public function testAlteredStaleOrMissingPartsDoNot(): void
    {
        $now = 1700000000;
        $sig = WebhookSignature::sign(self::SECRET, 'id-1', $now, '{}');
        $this->assertTrue(WebhookSignature::verify(self::SECRET, 'id-1', (string) $now, "v1,bogus $sig", '{}', 300, $now));
        $this->assertFalse(WebhookSignature::verify(self::SECRET, 'id-1', (string) $now, $sig, '{} ', 300, $now));
        $this->assertFalse(WebhookSignature::verify(self::SECRET, 'id-2', (string) $now, $sig, '{}', 300, $now));
        $this->assertFalse(WebhookSignature::verify(self::SECRET, 'id-1', (string) $now, $sig, '{}', 300, $now + 301));
        $this->assertFalse(WebhookSignature::verify(self::SECRET, 'id-1', 'soon', $sig, '{}', 300, $now));
        $this->assertFalse(WebhookSignature::verify(self::SECRET, null, (string) $now, $sig, '{}', 300, $now));
        $this->assertFalse(WebhookSignature::verify('plain-secret', 'id-1', (string) $now, $sig, '{}', 300, $now));
    }

    public function testAnEmptySecretIsAnError(): void
    {
        $this->expectException(InvalidArgumentException::class);
        WebhookSignature::key('');
    }
}
