<?php

declare(strict_types=1);

namespace Leadgate\Tests\Support;

use Illuminate\Contracts\Console\Kernel as ConsoleKernelContract;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Foundation\Application;
use Illuminate\Foundation\Bootstrap\BootProviders;
use Illuminate\Foundation\Bootstrap\LoadConfiguration;
use Illuminate\Foundation\Bootstrap\RegisterFacades;
use Illuminate\Foundation\Bootstrap\RegisterProviders;
use Illuminate\Foundation\Console\Kernel as ConsoleKernel;
use Illuminate\Support\Facades\Facade;

/**
 * A minimal Laravel application in a temp dir, booted the way `php artisan` boots one, with
 * this package "installed": vendor/composer/installed.json lists it as Composer would (its own
 * composer.json), so its provider and facade arrive through package discovery only. Queues on
 * the `database` connection, in an SQLite file.
 */
final class LaravelApp
{
    public static function boot(): Application
    {
        $base = Env::get('LEADGATE_TEST_TMP') . '/laravel-' . bin2hex(random_bytes(6));
        foreach (['config', 'bootstrap/cache', 'vendor/composer', 'database', 'storage/logs', 'storage/framework/cache'] as $dir) {
            mkdir("{$base}/{$dir}", 0o777, true);
        }
        file_put_contents("{$base}/composer.json", json_encode(['name' => 'brand/site']));
        $package = json_decode((string) file_get_contents(dirname(__DIR__, 2) . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);
        $package += ['version' => '0.1.0', 'install-path' => '../leadgate/client'];
        file_put_contents("{$base}/vendor/composer/installed.json", json_encode(['packages' => [$package], 'dev' => true]));
        touch("{$base}/database/database.sqlite");

        self::writeConfig($base, 'app', [
            'name' => 'brand-site',
            'env' => 'testing',
            'debug' => true,
            'timezone' => 'UTC',
            'key' => 'base64:' . base64_encode(random_bytes(32)),
            'cipher' => 'AES-256-CBC',
            // What a fresh Laravel app lists, minus the HTTP-only ones; no Leadgate entry.
            'providers' => [
                \Illuminate\Bus\BusServiceProvider::class,
                \Illuminate\Cache\CacheServiceProvider::class,
                \Illuminate\Foundation\Providers\ConsoleSupportServiceProvider::class,
                \Illuminate\Database\DatabaseServiceProvider::class,
                \Illuminate\Encryption\EncryptionServiceProvider::class,
                \Illuminate\Filesystem\FilesystemServiceProvider::class,
                \Illuminate\Pipeline\PipelineServiceProvider::class,
                \Illuminate\Queue\QueueServiceProvider::class,
            ],
            'aliases' => [],
        ]);
        self::writeConfig($base, 'database', [
            'default' => 'sqlite',
            'connections' => ['sqlite' => ['driver' => 'sqlite', 'database' => "{$base}/database/database.sqlite", 'prefix' => '', 'foreign_key_constraints' => true]],
            'migrations' => 'migrations',
        ]);
        self::writeConfig($base, 'queue', [
            'default' => 'database',
            'connections' => [
                'sync' => ['driver' => 'sync'],
                'database' => ['driver' => 'database', 'table' => 'jobs', 'queue' => 'default', 'retry_after' => 90, 'after_commit' => false],
            ],
            'failed' => ['driver' => 'database-uuids', 'database' => 'sqlite', 'table' => 'failed_jobs'],
        ]);
        self::writeConfig($base, 'cache', ['default' => 'array', 'stores' => ['array' => ['driver' => 'array', 'serialize' => false]], 'prefix' => 'site']);
        self::writeConfig($base, 'filesystems', ['default' => 'local', 'disks' => ['local' => ['driver' => 'local', 'root' => "{$base}/storage"]]]);

        $app = new Application($base);
        $app->singleton(ConsoleKernelContract::class, ConsoleKernel::class);
        $app->singleton(\Illuminate\Contracts\Debug\ExceptionHandler::class, \Illuminate\Foundation\Exceptions\Handler::class);
        Facade::clearResolvedInstances();
        // The console kernel's bootstrappers, minus .env loading and PHP error handler changes.
        $app->bootstrapWith([LoadConfiguration::class, RegisterFacades::class, RegisterProviders::class, BootProviders::class]);

        self::createQueueTables($app);
        return $app;
    }

    private static function writeConfig(string $base, string $name, array $values): void
    {
        file_put_contents("{$base}/config/{$name}.php", '<?php return ' . var_export($values, true) . ';');
    }

    /** The tables of `php artisan queue:table` and `queue:failed-table`. */
    private static function createQueueTables(Application $app): void
    {
        $schema = $app->make('db')->connection()->getSchemaBuilder();
        $schema->create('jobs', static function (Blueprint $table): void {
            $table->bigIncrements('id');
            $table->string('queue')->index();
            $table->longText('payload');
            $table->unsignedTinyInteger('attempts');
            $table->unsignedInteger('reserved_at')->nullable();
            $table->unsignedInteger('available_at');
            $table->unsignedInteger('created_at');
        });
        $schema->create('failed_jobs', static function (Blueprint $table): void {
            $table->id();
            $table->string('uuid')->unique();
            $table->text('connection');
            $table->text('queue');
            $table->longText('payload');
            $table->longText('exception');
            $table->timestamp('failed_at')->useCurrent();
        });
    }
}
