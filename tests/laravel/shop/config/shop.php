<?php

return [
    // The Bearer token the sales API expects (the forecast service's LARAVEL_API_TOKEN); empty: none.
    'api_token' => env('SHOP_API_TOKEN', ''),
    'per_page' => (int) env('SHOP_PER_PAGE', 100),
];
