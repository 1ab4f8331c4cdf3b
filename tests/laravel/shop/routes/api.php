<?php

use App\Http\Controllers\SalesController;
use App\Http\Controllers\StockController;
use Illuminate\Support\Facades\Route;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Facades\SalesForecast;

Route::middleware('shop.token')->group(function () {
    Route::get('/sales', [SalesController::class, 'paginate']);
    Route::get('/sales/items', [SalesController::class, 'items']);
    Route::get('/simple/sales', [SalesController::class, 'simple']);
    Route::get('/simple-raw/sales', [SalesController::class, 'simpleRaw']);
    Route::get('/cursor/sales', [SalesController::class, 'cursor']);
    Route::get('/cursor-raw/sales', [SalesController::class, 'cursorRaw']);
    Route::get('/all/sales', [SalesController::class, 'all']);
    Route::get('/stock', [StockController::class, 'index']);  // LARAVEL_STOCK_PATH's default

    // docs: csv download
    Route::get('/forecasts/{id}/series.csv', function (string $id) {
        $path = tempnam(sys_get_temp_dir(), 'forecast-');
        try {
            SalesForecast::api()->seriesCsv($id, $path);    // streamed into the file, whole or not at all
        } catch (ApiException $e) {
            unlink($path);
            abort($e->errorCode === 'not_found' ? 404 : 502, $e->getMessage());
        }
        return response()->download($path, "forecast-{$id}.csv", ['Content-Type' => 'text/csv'])->deleteFileAfterSend();
    });
    // end docs
});
