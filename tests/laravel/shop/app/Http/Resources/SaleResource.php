<?php

namespace App\Http\Resources;

use Illuminate\Http\Resources\Json\JsonResource;

class SaleResource extends JsonResource
{
    public function toArray($request)
    {
        return [
            'id' => $this->id,
            'status' => $this->status,
            'grand_total' => $this->grand_total,   // decimal:2, a string: "1234.50"
            'created_at' => $this->created_at,     // Carbon: "2025-01-03T10:15:00.000000Z"
            'updated_at' => $this->updated_at,
        ];
    }
}
