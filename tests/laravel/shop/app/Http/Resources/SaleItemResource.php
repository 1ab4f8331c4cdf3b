<?php

namespace App\Http\Resources;

use Illuminate\Http\Resources\Json\JsonResource;

/** A sale line: the model's own serialisation (casts and dates as Eloquent renders them). */
class SaleItemResource extends JsonResource
{
}
