<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Support\ServiceProvider;
use SalesForecast\Laravel\Console\DispatchCommand;

final class SalesForecastServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/sales-forecast.php', 'sales-forecast');
        $this->app->singleton(SalesForecast::class, fn ($app) => new SalesForecast(
            $app['config'], $app['redis'], $app->make(\Illuminate\Http\Client\Factory::class),
        ));
    }

    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([
                __DIR__ . '/../config/sales-forecast.php' => $this->app->configPath('sales-forecast.php'),
            ], 'sales-forecast-config');
            $this->commands([DispatchCommand::class]);
        }
        if (!$this->app->routesAreCached() && $this->app['config']->get('sales-forecast.webhook.path')) {
            $this->loadRoutesFrom(__DIR__ . '/../routes/webhooks.php');
        }
    }
}
