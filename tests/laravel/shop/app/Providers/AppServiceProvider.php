<?php

namespace App\Providers;

use App\Listeners\RecordFinishedForecast;
use App\Listeners\RecordForecastAlert;
use Illuminate\Support\Facades\Event;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\ServiceProvider;
use SalesForecast\Laravel\Events\ForecastAlertRaised;
use SalesForecast\Laravel\Events\ForecastFinished;

class AppServiceProvider extends ServiceProvider
{
    public function boot()
    {
        Route::prefix('api')->middleware('api')->group(base_path('routes/api.php'));
        Event::listen(ForecastFinished::class, RecordFinishedForecast::class);
        Event::listen(ForecastAlertRaised::class, RecordForecastAlert::class);
    }
}
