<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Http;

use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use SalesForecast\Laravel\Events\ForecastFinished;

/** Receives a verified completion webhook and hands it to the ForecastFinished event; answers 204 fast. */
final class WebhookController
{
    public function __invoke(Request $request, Dispatcher $events): Response|JsonResponse
    {
        $payload = json_decode($request->getContent(), true);
        if (!is_array($payload) || !is_string($payload['task_id'] ?? null) || !is_string($payload['status'] ?? null)) {
            return response()->json(['status' => 'error', 'error' => [
                'code' => 'invalid_request', 'message' => 'not a forecast status document',
            ]], 422);
        }
        $events->dispatch(new ForecastFinished(
            (string) $request->header('webhook-id'),
            $payload['task_id'],
            $payload['status'],
            is_array($payload['result'] ?? null) ? $payload['result'] : null,
            is_array($payload['error'] ?? null) ? $payload['error'] : null,
            $payload,
        ));
        return response()->noContent();
    }
}
