<?php

// Laravel from Debian's packages (bootstrap/debian.php), the app's Composer autoloader, and
// Debian's Mockery (php-mockery), which Laravel's facades use for shouldReceive() and spy().
require __DIR__ . '/../bootstrap/debian.php';
require __DIR__ . '/../vendor/autoload.php';
require_once 'Mockery/autoload.php';
spl_autoload_register(function (string $class): void {
    if (str_starts_with($class, 'Tests\\')) {
        require __DIR__ . '/' . str_replace('\\', '/', substr($class, 6)) . '.php';
    }
});
