<?php

use App\Http\Controllers\SalesController;
use Illuminate\Support\Facades\Route;

Route::middleware('shop.token')->group(function () {
    Route::get('/sales', [SalesController::class, 'paginate']);
    Route::get('/sales/items', [SalesController::class, 'items']);
    Route::get('/simple/sales', [SalesController::class, 'simple']);
    Route::get('/simple-raw/sales', [SalesController::class, 'simpleRaw']);
    Route::get('/cursor/sales', [SalesController::class, 'cursor']);
    Route::get('/cursor-raw/sales', [SalesController::class, 'cursorRaw']);
    Route::get('/all/sales', [SalesController::class, 'all']);
});
