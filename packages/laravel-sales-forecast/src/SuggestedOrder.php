<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use SalesForecast\Laravel\Enums\Measure;
use UnexpectedValueException;

/**
 * One product's inventory figures from a finished grouped forecast with `inventory` (docs/api.md
 * §12, docs/inventory.md): how much stock to hold and how much to order now, ready for a
 * purchase-order import. SalesForecast::suggestedOrders($taskId) returns one per product.
 *
 *     $order->product          // '17': the value of the key's product field (product_id, else sku)
 *     $order->productField     // 'product_id' or 'sku'; null when the key names neither
 *     $order->group            // the other key fields: ['category' => 'Tea']
 *     $order->suggestedOrder   // whole units to order now; null when the shop's stock does not list it
 *     $order->orderUpTo, $order->safetyStock, $order->leadTimeDemand, $order->onHand, $order->onOrder
 *     $order->serviceLevel     // the level asked for (95.0); achievedServiceLevel: what the backtest achieved
 *
 * Figures are in the job's measure ($measure; a grouped job with inventory orders units).
 */
final class SuggestedOrder
{
    /** The key fields that name a product, in the order the service matches stock on them. */
    public const PRODUCT_FIELDS = ['product_id', 'sku'];

    /** The service's figure names, in the order of its inventory CSV (series.csv?view=inventory). */
    public const CSV_FIGURES = ['lead_time_demand', 'order_up_to', 'safety_stock', 'service_level', 'on_hand', 'on_order', 'suggested_order'];

    /**
     * @param array<string, string|null> $key the series' whole key
     * @param array<string, string|null> $group the key without the product field
     */
    public function __construct(
        public readonly array $key,
        public readonly ?string $product,
        public readonly ?string $productField,
        public readonly array $group,
        public readonly float $leadTimeDemand,
        public readonly float $orderUpTo,
        public readonly float $safetyStock,
        public readonly float $serviceLevel,
        public readonly ?float $onHand,
        public readonly ?float $onOrder,
        public readonly ?int $suggestedOrder,
        public readonly ?float $achievedServiceLevel,
        public readonly ?int $backtestOrigins,
        public readonly Measure $measure,
    ) {
    }

    /**
     * From one series of GET /api/v1/forecasts/{id}/series (its `key` and `inventory`).
     *
     * @throws UnexpectedValueException when the series has no inventory figures
     */
    public static function fromSeries(array $series, Measure|string $measure = Measure::Units): self
    {
        $inventory = $series['inventory'] ?? null;
        if (!is_array($inventory)) {
            throw new UnexpectedValueException('the series has no inventory: was the job submitted with an inventory field?');
        }
        $key = is_array($series['key'] ?? null) ? $series['key'] : [];
        $key = array_map(fn ($v) => $v === null ? null : (string) $v, $key);
        $productField = null;
        foreach (self::PRODUCT_FIELDS as $field) {
            if (array_key_exists($field, $key)) {
                $productField = $field;
                break;
            }
        }
        $number = function (string $field, bool $required = false) use ($inventory): ?float {
            $value = $inventory[$field] ?? null;
            if (is_int($value) || is_float($value)) {
                return (float) $value;
            }
            if ($required) {
                throw new UnexpectedValueException("the series' inventory has no '$field'");
            }
            return null;
        };
        $suggested = $number('suggested_order');
        $origins = $inventory['backtest_origins'] ?? null;
        return new self(
            $key,
            $productField === null ? null : $key[$productField],
            $productField,
            $productField === null ? $key : array_diff_key($key, [$productField => true]),
            $number('lead_time_demand', true),
            $number('order_up_to', true),
            $number('safety_stock', true),
            $number('service_level', true),
            $number('on_hand'),
            $number('on_order'),
            $suggested === null ? null : (int) round($suggested),  // whole units (the service rounds up)
            $number('achieved_service_level'),
            is_int($origins) ? $origins : null,
            $measure instanceof Measure ? $measure : Measure::from($measure),
        );
    }

    /** Something to order now (false also when the stock does not list the product). */
    public function needsOrder(): bool
    {
        return $this->suggestedOrder !== null && $this->suggestedOrder > 0;
    }

    /** The shop's stock lists the product: on_hand, on_order and suggested_order are known. */
    public function stocked(): bool
    {
        return $this->onHand !== null;
    }

    /** The service's JSON names: the key, then the inventory figures, measure and product fields. */
    public function toArray(): array
    {
        return [
            'key' => $this->key,
            'product' => $this->product,
            'product_field' => $this->productField,
            'group' => $this->group,
            'lead_time_demand' => $this->leadTimeDemand,
            'order_up_to' => $this->orderUpTo,
            'safety_stock' => $this->safetyStock,
            'service_level' => $this->serviceLevel,
            'on_hand' => $this->onHand,
            'on_order' => $this->onOrder,
            'suggested_order' => $this->suggestedOrder,
            'achieved_service_level' => $this->achievedServiceLevel,
            'backtest_origins' => $this->backtestOrigins,
            'measure' => $this->measure->value,
        ];
    }

    /**
     * One line of a purchase-order CSV, cell by cell: the values of $fields (the key's, in the
     * job's group_by order; `null` for a null key), then CSV_FIGURES: whole numbers without
     * decimals, others to the cent, an empty cell where unknown (as series.csv?view=inventory).
     *
     * @param list<string> $fields
     * @return list<string>
     */
    public function csvCells(array $fields): array
    {
        $cells = array_map(fn (string $f) => $this->key[$f] ?? 'null', $fields);
        $figures = $this->toArray();
        foreach (self::CSV_FIGURES as $name) {
            $value = $figures[$name];
            $cells[] = $value === null ? '' : (floor((float) $value) == $value ? (string) (int) $value : number_format((float) $value, 2, '.', ''));
        }
        return $cells;
    }
}
