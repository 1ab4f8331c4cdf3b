<?php

use Illuminate\Support\Facades\Route;
use SalesForecast\Laravel\Http\VerifyWebhookSignature;
use SalesForecast\Laravel\Http\WebhookController;

// Outside the 'web' middleware group: no session, no CSRF token (the signature authenticates).
Route::post(config('sales-forecast.webhook.path'), WebhookController::class)
    ->middleware(VerifyWebhookSignature::class)
    ->name('sales-forecast.webhook');
