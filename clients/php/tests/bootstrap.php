<?php

declare(strict_types=1);

// What Composer's autoloader would do for this package: PSR-4 for src/ and tests/, plus
// Laravel from Debian's php-laravel-framework (or LARAVEL_AUTOLOAD) for the Laravel tests.
spl_autoload_register(static function (string $class): void {
    foreach (['Leadgate\\Tests\\' => __DIR__ . '/', 'Leadgate\\' => dirname(__DIR__) . '/src/'] as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

$laravel = getenv('LARAVEL_AUTOLOAD') ?: '/usr/share/php/Illuminate/autoload.php';
if (is_file($laravel)) {
    require_once $laravel;
}
