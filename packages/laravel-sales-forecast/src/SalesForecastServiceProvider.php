<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use Illuminate\Foundation\Console\AboutCommand;
use Illuminate\Support\ServiceProvider;
use SalesForecast\Laravel\Console\AlertsCommand;
use SalesForecast\Laravel\Console\CheckCommand;
use SalesForecast\Laravel\Console\DispatchCommand;
use SalesForecast\Laravel\Console\OrdersCommand;

final class SalesForecastServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/sales-forecast.php', 'sales-forecast');
        $this->app->singleton(SalesForecast::class, fn ($app) => new SalesForecast($app['config'], $app['redis'], $app));
        $this->app->alias(SalesForecast::class, Contracts\SalesForecast::class);
    }

    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([
                __DIR__ . '/../config/sales-forecast.php' => $this->app->configPath('sales-forecast.php'),
            ], 'sales-forecast-config');
            $this->commands([DispatchCommand::class, CheckCommand::class, AlertsCommand::class, OrdersCommand::class]);
            if (class_exists(AboutCommand::class) && method_exists(AboutCommand::class, 'add')) {  // Laravel 9.21+
                AboutCommand::add('Sales Forecast', fn () => $this->about());
            }
        }
        if (!$this->app->routesAreCached() && $this->app['config']->get('sales-forecast.webhook.path')) {
            $this->loadRoutesFrom(__DIR__ . '/../routes/webhooks.php');
            // route('sales-forecast.webhook') in an app without a RouteServiceProvider to refresh the names.
            $this->app->booted(fn ($app) => $app['router']->getRoutes()->refreshNameLookups());
        }
    }

    /** The `php artisan about` section: what is configured, without connecting to anything. */
    private function about(): array
    {
        $config = $this->app['config'];
        $named = $config->get('sales-forecast.redis.connection');
        $url = (string) $config->get('sales-forecast.redis.url');
        return [
            'Redis' => $named ? "connection [$named]" : ($config->get('sales-forecast.redis.sentinels')
                ? 'sentinels ' . $config->get('sales-forecast.redis.sentinels') . ', master ' . $config->get('sales-forecast.redis.sentinel_master')
                : preg_replace('#//[^@/]*@#', '//***@', $url)),
            'Queue' => (string) $config->get('sales-forecast.redis.queue'),
            'After commit' => $config->get('sales-forecast.after_commit') ? 'yes' : 'no',
            'API' => (string) $config->get('sales-forecast.api.url'),
            'API key' => $config->get('sales-forecast.api.key') ? 'set' : 'NOT SET',
            'Webhook secret' => $config->get('sales-forecast.webhook.secret') ? 'set' : 'NOT SET',
        ];
    }
}
