<?php

namespace App\Http\Middleware;

use Closure;
use Illuminate\Auth\AuthenticationException;
use Illuminate\Http\Request;

/** The sales API's Bearer token (what the forecast service sends as LARAVEL_API_TOKEN). */
class ShopApiToken
{
    public function handle(Request $request, Closure $next)
    {
        $expected = (string) config('shop.api_token');
        if ($expected !== '' && !hash_equals($expected, (string) $request->bearerToken())) {
            throw new AuthenticationException();  // Laravel renders {"message": "Unauthenticated."}, 401
        }
        return $next($request);
    }
}
