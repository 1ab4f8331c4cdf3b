<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Console;

use Illuminate\Console\Command;
use SalesForecast\Laravel\Contracts\SalesForecast;
use SalesForecast\Laravel\Exceptions\ApiException;
use SalesForecast\Laravel\Exceptions\ForecastJobFailed;
use SalesForecast\Laravel\Exceptions\ForecastNotFinished;
use SalesForecast\Laravel\SuggestedOrder;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * php artisan sales-forecast:orders {task_id} [--csv] [--to-order] [--sort=-order] [--limit=100]
 *
 * A finished grouped job's suggested orders (docs/api.md §12), one product a line: a table, or with
 * --csv a purchase-order CSV on stdout (the key fields, then lead_time_demand, order_up_to,
 * safety_stock, service_level, on_hand, on_order, suggested_order: the columns of the service's
 * series.csv?view=inventory). Exit codes: 0 listed, 1 the job failed or was cancelled, 2 it has
 * not finished yet (ask again), 64 bad usage or no suggested orders (unknown job, not grouped, no
 * inventory), 69 the web API unreachable or failing.
 */
final class OrdersCommand extends Command
{
    protected $signature = 'sales-forecast:orders
        {task_id : a grouped forecast submitted with inventory}
        {--csv : print a CSV for a purchase-order import instead of a table}
        {--to-order : only products with something to order now}
        {--sort=key : key (the hierarchy\'s order) or -order (the largest suggested orders first)}
        {--limit= : at most this many products (with --sort=-order: the largest)}';

    protected $description = 'List the suggested orders of a finished grouped forecast with inventory';

    public function handle(SalesForecast $forecasts): int
    {
        $sort = (string) $this->option('sort');
        if (!in_array($sort, ['key', 'order', '-order'], true)) {
            $this->error('invalid_request: sort: key, order or -order');
            return 64;
        }
        $limit = $this->option('limit') === null ? null : filter_var($this->option('limit'), FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]);
        if ($limit === false) {
            $this->error('invalid_request: limit: must be a whole number of at least 1');
            return 64;
        }
        try {
            $orders = $forecasts->suggestedOrders((string) $this->argument('task_id'), $limit, $sort);
        } catch (ForecastNotFinished $e) {
            $this->error($e->getMessage());
            return 2;
        } catch (ForecastJobFailed $e) {
            $this->error($e->getMessage());
            return 1;
        } catch (ApiException $e) {
            $this->error($e->getMessage());
            return $e->errorCode === 'not_found' ? 64 : 69;
        }
        if ($this->option('to-order')) {
            $orders = $orders->filter(fn (SuggestedOrder $o) => $o->needsOrder())->values();
        }
        $fields = array_keys($orders->first()?->key ?? []);
        if ($this->option('csv')) {
            // Raw: a product name with <...> in it is not a console style tag.
            $this->output->writeln(rtrim(self::csv([[...$fields, ...SuggestedOrder::CSV_FIGURES], ...$orders->map(fn (SuggestedOrder $o) => $o->csvCells($fields))]), "\n"), OutputInterface::OUTPUT_RAW);
            return 0;
        }
        if ($orders->isEmpty()) {
            $this->info('No suggested orders.');
            return 0;
        }
        $number = fn (?float $v) => $v === null ? '' : (floor($v) == $v ? (string) (int) $v : number_format($v, 2, '.', ''));
        $this->table([...$fields, 'Order up to', 'Safety stock', 'On hand', 'On order', 'Suggested order', 'Service level'],
            $orders->map(fn (SuggestedOrder $o) => [
                ...array_map(fn (string $f) => $o->key[$f] ?? 'null', $fields),
                $number($o->orderUpTo), $number($o->safetyStock), $number($o->onHand), $number($o->onOrder),
                $o->suggestedOrder === null ? 'not in stock list' : (string) $o->suggestedOrder,
                $number($o->serviceLevel) . '%' . ($o->achievedServiceLevel === null ? '' : " (achieved {$number($o->achievedServiceLevel)}%)"),
            ])->all());
        return 0;
    }

    /** RFC 4180 lines (no escape character), as the service writes its CSV. */
    private static function csv(iterable $rows): string
    {
        $out = fopen('php://temp', 'r+');
        foreach ($rows as $row) {
            fputcsv($out, $row, ',', '"', '', "\n");
        }
        rewind($out);
        $text = (string) stream_get_contents($out);
        fclose($out);
        return $text;
    }
}
