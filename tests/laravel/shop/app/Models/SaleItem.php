<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

class SaleItem extends Model
{
    protected $casts = [
        'line_total' => 'decimal:2',
        'quantity' => 'integer',
        'store_id' => 'integer',
    ];

    public function sale()
    {
        return $this->belongsTo(Sale::class);
    }
}
