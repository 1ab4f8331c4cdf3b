<?php

// With `composer install` in this directory, Composer's autoloader; without it (offline, as the
// project's CI runs), Laravel, Guzzle and predis from Debian's packages and this package's classes.
if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    require __DIR__ . '/../vendor/autoload.php';
    return;
}
require_once 'Illuminate/autoload.php';
require_once 'GuzzleHttp/autoload.php';
require_once 'Predis/autoload.php';
require_once __DIR__ . '/../autoload.php';
