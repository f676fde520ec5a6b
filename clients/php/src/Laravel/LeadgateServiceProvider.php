<?php

declare(strict_types=1);

namespace Leadgate\Laravel;

use Illuminate\Contracts\Foundation\Application;
use Illuminate\Support\ServiceProvider;
use Leadgate\Client;

/**
 * Auto-discovered through composer.json's `extra.laravel`: binds one Leadgate\Client built from
 * config/leadgate.php (also resolvable as `leadgate`, behind the Leadgate facade) and offers
 * the config file to `php artisan vendor:publish --tag=leadgate-config`.
 */
final class LeadgateServiceProvider extends ServiceProvider
{
    private const CONFIG = __DIR__ . '/../../config/leadgate.php';

    public function register(): void
    {
        $this->mergeConfigFrom(self::CONFIG, 'leadgate');

        $this->app->singleton(Client::class, static function (Application $app): Client {
            /** @var array{url: ?string, key: ?string, timeout: float, retries: int} $config */
            $config = $app->make('config')->get('leadgate');
            return new Client((string) $config['url'], (string) $config['key'], [
                'timeout' => $config['timeout'],
                'retries' => $config['retries'],
            ]);
        });
        $this->app->alias(Client::class, 'leadgate');
    }

    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([self::CONFIG => $this->app->configPath('leadgate.php')], 'leadgate-config');
        }
    }
}
