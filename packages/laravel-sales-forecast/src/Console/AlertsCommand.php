<?php

declare(strict_types=1);

namespace SalesForecast\Laravel\Console;

use Illuminate\Console\Command;
use SalesForecast\Laravel\Alert;
use SalesForecast\Laravel\Contracts\SalesForecast;
use SalesForecast\Laravel\Enums\AlertKind;
use SalesForecast\Laravel\Exceptions\ApiException;

/**
 * php artisan sales-forecast:alerts [--kind=below_range] [--since=2025-10-01] [--group='{"category":"Shoes"}'] [--limit=20] [--json]
 *
 * The service's recent alerts (GET /api/v1/alerts, docs/api.md §11), newest first, as a table (or
 * JSON lines with --json). Exit codes: 0 listed (even none), 64 a filter refused (by this command
 * or by the service, naming it), 69 the web API unreachable or failing.
 */
final class AlertsCommand extends Command
{
    protected $signature = 'sales-forecast:alerts
        {--kind= : below_range, above_range or forecast_drop}
        {--since= : only alerts raised since this date or date-time (ISO 8601)}
        {--group= : one series: its key as a JSON object, as in docs/laravel.md §5b (the empty object: the total)}
        {--limit=20 : how many (1-1000)}
        {--cursor= : the next page (printed under a full page)}
        {--json : one JSON alert a line instead of a table}';

    protected $description = 'List the forecast service\'s recent alerts (below/above range, forecast drops)';

    public function handle(SalesForecast $forecasts): int
    {
        $kind = $this->option('kind');
        if ($kind !== null && AlertKind::tryFrom($kind) === null) {
            $this->error("invalid_request: kind: must be one of " . implode(', ', array_column(AlertKind::cases(), 'value')));
            return 64;
        }
        $group = null;
        if ($this->option('group') !== null) {
            $group = json_decode($this->option('group'), true);
            if (!is_array($group) || (array_is_list($group) && $group !== [])) {
                $this->error('invalid_request: group: must be a JSON object, e.g. {"category":"Shoes"}');
                return 64;
            }
        }
        $limit = filter_var($this->option('limit'), FILTER_VALIDATE_INT);
        if ($limit === false) {
            $this->error('invalid_request: limit: must be a whole number between 1 and 1000');
            return 64;
        }
        try {
            $page = $forecasts->alerts($this->option('since'), $kind, $group, $limit, $this->option('cursor'));
        } catch (ApiException $e) {
            $this->error($e->getMessage() . ($e->field ? " (field: {$e->field})" : ''));
            return $e->errorCode === 'invalid_request' ? 64 : 69;
        }
        if ($this->option('json')) {
            foreach ($page->alerts as $alert) {
                $this->line(json_encode(['series' => (object) $alert->series] + $alert->toArray(), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION));
            }
        } elseif (count($page) === 0) {
            $this->info('No alerts.');
        } else {
            $this->table(['Raised', 'Kind', 'Series', 'Period', 'Measure', 'Actual', 'Range', 'Change', 'Task'],
                array_map(fn (Alert $a) => $this->row($a), $page->alerts));
        }
        if ($page->nextCursor !== null && !$this->option('json')) {
            $this->line("More: --cursor={$page->nextCursor}");
        }
        return 0;
    }

    private function row(Alert $a): array
    {
        $series = $a->isTotal() ? 'total' : implode(', ', array_map(fn ($k, $v) => "$k=" . ($v ?? 'null'), array_keys($a->series), $a->series));
        $number = fn (?float $v) => $v === null ? '' : number_format($v, 2, '.', '');
        return [
            $a->createdAt->format('Y-m-d H:i'),
            $a->kind->value,
            $series,
            $a->period . ($a->frequency === 'month' ? '' : " ({$a->frequency})"),
            $a->measure,
            $number($a->actual),
            $a->low === null ? '' : $number($a->low) . '–' . $number($a->high) . ($a->level === null ? '' : " @{$number($a->level)}%"),
            $a->changePct === null ? '' : sprintf('%+.1f%%', $a->changePct),
            $a->taskId,
        ];
    }
}
