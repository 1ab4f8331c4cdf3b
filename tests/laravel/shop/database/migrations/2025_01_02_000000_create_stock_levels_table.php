<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

class CreateStockLevelsTable extends Migration
{
    public function up()
    {
        // What the shop has of each product, which the forecast service reads for suggested orders.
        Schema::create('stock_levels', function (Blueprint $table) {
            $table->id();
            $table->string('product_id')->nullable()->index();
            $table->string('sku')->nullable();
            $table->decimal('on_hand', 12, 2);
            $table->decimal('on_order', 12, 2)->default(0);
            $table->decimal('min_order', 12, 2)->nullable();
            $table->decimal('pack_size', 12, 2)->nullable();
            $table->timestamps();
        });
    }

    public function down()
    {
        Schema::dropIfExists('stock_levels');
    }
}
