<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Http;

use Closure;
use Illuminate\Contracts\Config\Repository as Config;
use Illuminate\Http\Request;
use SalesForecast\Laravel\WebhookSignature;
use Symfony\Component\HttpFoundation\Response;

/**
 * Lets a request through only when it carries a valid Standard Webhooks signature made with
 * sales-forecast.webhook.secret; answers 401 otherwise. Attach it to any route that receives the
 * service's completion webhooks (the package's own route has it).
 */
final class VerifyWebhookSignature
{
    public function __construct(private Config $config)
    {
    }

    public function handle(Request $request, Closure $next): Response
    {
        $secret = (string) $this->config->get('sales-forecast.webhook.secret');
        if ($secret === '') {
            // A receiver without a secret would accept anything: refuse, and say why in the log.
            report(new \LogicException('sales-forecast.webhook.secret is not set (SALES_FORECAST_WEBHOOK_SECRET): webhook refused'));
            return $this->refuse('the webhook secret is not configured');
        }
        $valid = WebhookSignature::verify(
            $secret,
            $request->header('webhook-id'),
            $request->header('webhook-timestamp'),
            $request->header('webhook-signature'),
            $request->getContent(),  // the RAW body: re-encoding parsed JSON changes the bytes
            (int) $this->config->get('sales-forecast.webhook.tolerance', 300),
        );
        return $valid ? $next($request) : $this->refuse('invalid webhook signature');
    }

    private function refuse(string $message): Response
    {
        return response()->json(['status' => 'error', 'error' => ['code' => 'unauthorized', 'message' => $message]], 401);
    }
}
