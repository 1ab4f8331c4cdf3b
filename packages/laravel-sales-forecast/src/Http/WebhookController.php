<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Http;

use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use SalesForecast\Laravel\Enums\State;
use SalesForecast\Laravel\Events\ForecastFailed;
use SalesForecast\Laravel\Events\ForecastFinished;
use SalesForecast\Laravel\Events\ForecastSucceeded;
use SalesForecast\Laravel\ForecastResult;

/**
 * Receives a verified completion webhook: the event ForecastFinished, then ForecastSucceeded or
 * ForecastFailed, each with the job's ForecastResult; answers 204 fast.
 */
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
        $webhookId = (string) $request->header('webhook-id');
        $result = ForecastResult::fromStatus($payload);
        $events->dispatch(new ForecastFinished($webhookId, $result, $payload));
        if ($result->state() === State::Success) {
            $events->dispatch(new ForecastSucceeded($webhookId, $result));
        } elseif ($result->failed()) {
            $events->dispatch(new ForecastFailed($webhookId, $result));
        }
        return response()->noContent();
    }
}
