<?php

// Laravel from Debian's packages (php-laravel-framework, php-predis, php-guzzlehttp-guzzle, all
// under /usr/share/php) instead of from Composer: composer.json "provide"s them, so Composer
// installs only the application's own packages into vendor/. An app installed from Packagist
// needs none of this.
require_once 'Illuminate/autoload.php';
require_once 'GuzzleHttp/autoload.php';
if (stream_resolve_include_path('Predis/autoload.php')) {
    require_once 'Predis/autoload.php';
}
