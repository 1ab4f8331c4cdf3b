<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

/** One product's stock: on hand, on order, and the supplier's minimum order and pack size. */
class StockLevel extends Model
{
    protected $casts = [
        'on_hand' => 'decimal:2',
        'on_order' => 'decimal:2',
        'min_order' => 'decimal:2',
        'pack_size' => 'decimal:2',
    ];
}
