<?php

namespace App\Http\Controllers;

use App\Models\StockLevel;
use Illuminate\Http\Request;

/** The stock the forecast service reads for suggested orders (docs/api.md §3, §12), paginated as the sales. */
class StockController
{
    public function index(Request $request)
    {
        $request->validate(['per_page' => ['nullable', 'integer', 'min:1', 'max:1000']]);
        return StockLevel::query()->orderBy('id')
            ->paginate((int) $request->query('per_page', config('shop.per_page')), ['product_id', 'sku', 'on_hand', 'on_order', 'min_order', 'pack_size'])
            ->withQueryString();
    }
}
