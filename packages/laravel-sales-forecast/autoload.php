<?php

// The package's classes without Composer (Composer's autoloader reads composer.json's psr-4 instead):
// for the package's own tests offline and for plain PHP scripts (examples/laravel/bootstrap.php).
// Laravel's Illuminate components must be loadable already (Debian: require 'Illuminate/autoload.php').
spl_autoload_register(function (string $class): void {
    $prefix = 'SalesForecast\\Laravel\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
