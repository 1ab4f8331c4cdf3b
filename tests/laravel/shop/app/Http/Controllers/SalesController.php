<?php

namespace App\Http\Controllers;

use App\Http\Resources\SaleItemResource;
use App\Http\Resources\SaleResource;
use App\Models\Sale;
use App\Models\SaleItem;
use Illuminate\Http\Request;

/** The sales API the forecast service reads (CONTRACT §3), once per paginator Laravel ships. */
class SalesController
{
    /** paginate(): a length-aware paginator, with withQueryString(). */
    public function paginate(Request $request)
    {
        return SaleResource::collection($this->sales($request)->paginate($this->perPage($request))->withQueryString());
    }

    /** simplePaginate(), without withQueryString(): its next links drop the filters. */
    public function simple(Request $request)
    {
        return SaleResource::collection($this->sales($request)->simplePaginate($this->perPage($request)));
    }

    /** simplePaginate() returned as it is (the paginator's own JSON, no resource). */
    public function simpleRaw(Request $request)
    {
        return $this->sales($request)->simplePaginate($this->perPage($request))->withQueryString();
    }

    /** cursorPaginate() as an API resource collection. */
    public function cursor(Request $request)
    {
        return SaleResource::collection($this->sales($request)->cursorPaginate($this->perPage($request))->withQueryString());
    }

    /** cursorPaginate() returned as it is (the paginator's own JSON, no resource). */
    public function cursorRaw(Request $request)
    {
        return $this->sales($request)->cursorPaginate($this->perPage($request))->withQueryString();
    }

    /** get(): every row in one {"data": [...]}. */
    public function all(Request $request)
    {
        return SaleResource::collection($this->sales($request)->get());
    }

    /** Sale lines for grouped forecasts (CONTRACT §3, §8). */
    public function items(Request $request)
    {
        $this->validateFilters($request);
        $items = SaleItem::query()
            ->select('sale_items.*')
            ->join('sales', 'sales.id', '=', 'sale_items.sale_id')
            ->whereDate('sale_items.created_at', '>=', $request->query('start_date'))
            ->whereDate('sale_items.created_at', '<=', $request->query('end_date'))
            ->when($request->query('status'), fn ($q, $status) => $q->where('sales.status', $status))
            ->orderBy('sale_items.id');
        return SaleItemResource::collection($items->paginate($this->perPage($request))->withQueryString());
    }

    private function sales(Request $request)
    {
        $this->validateFilters($request);
        return Sale::query()
            ->whereDate('created_at', '>=', $request->query('start_date'))
            ->whereDate('created_at', '<=', $request->query('end_date'))
            ->when($request->query('status'), fn ($q, $status) => $q->where('status', $status))
            ->orderBy('id');
    }

    private function validateFilters(Request $request): void
    {
        $request->validate([
            'start_date' => ['required', 'date_format:Y-m-d'],
            'end_date' => ['required', 'date_format:Y-m-d', 'after_or_equal:start_date'],
            'status' => ['nullable', 'string', 'max:32'],
            'per_page' => ['nullable', 'integer', 'min:1', 'max:1000'],
        ]);
    }

    private function perPage(Request $request): int
    {
        return (int) $request->query('per_page', config('shop.per_page'));
    }
}
