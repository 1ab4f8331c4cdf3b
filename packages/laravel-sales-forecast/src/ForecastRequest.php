<?php

declare(strict_types=1);

namespace SalesForecast\Laravel;

use DateTimeInterface;
use JsonSerializable;
use SalesForecast\Laravel\Enums\Frequency;
use SalesForecast\Laravel\Enums\Measure;
use SalesForecast\Laravel\Enums\Model;
use SalesForecast\Laravel\Exceptions\InvalidForecastRequest;

/**
 * A forecast request, built and checked in PHP with the rules the service applies to the body of
 * POST /api/v1/forecasts (and to a job's kwargs), so a mistake is an InvalidForecastRequest here,
 * naming the field as the service's 422 would, instead of a job that fails later:
 *
 *     ForecastRequest::make()->horizon(6)->model(Model::Ets)->level(80)->frequency(Frequency::Week)
 *
 * Each setter checks its own field at once; validate() (called by every dispatch) checks what
 * depends on several (the horizon against the frequency, start_date before end_date). Fields left
 * unset are not sent, and the service applies its defaults. fromArray() reads the same fields from
 * an array (an unknown field is refused, as by the service).
 */
final class ForecastRequest implements JsonSerializable
{
    public const GROUP_FIELD_PATTERN = '/^[A-Za-z_][A-Za-z0-9_]{0,63}$/';
    public const MAX_GROUP_FIELDS = 3;
    public const STATUS_PATTERN = '/^[A-Za-z0-9_\-]{1,32}$/';
    public const HOLIDAYS_PATTERN = '/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/';
    public const MAX_EVENTS = 500;
    public const MIN_YEAR = 1970;
    public const MAX_YEAR = 2200;
    private const FIELDS = [
        'start_date', 'end_date', 'status', 'horizon', 'level', 'model', 'callback_url', 'refresh',
        'group_by', 'measure', 'frequency', 'holidays', 'events', 'inventory',
    ];

    /** The fields the service takes as null (the others must be left out instead). */
    private const NULLABLE = ['start_date', 'end_date', 'callback_url', 'group_by', 'frequency', 'holidays', 'events', 'inventory'];

    /** @var array<string, mixed> the fields set, as they will be sent */
    private array $fields = [];

    public static function make(): self
    {
        return new self();
    }

    /**
     * The request these fields make, every one checked.
     *
     * @throws InvalidForecastRequest naming the first field at fault
     */
    public static function fromArray(array $fields): self
    {
        if ($fields !== [] && array_is_list($fields)) {
            throw new InvalidForecastRequest(null, 'the request must be an object (field => value), not a list');
        }
        $request = new self();
        foreach ($fields as $name => $value) {
            $name = (string) $name;
            if (!in_array($name, self::FIELDS, true)) {
                throw new InvalidForecastRequest($name, 'unknown field');
            }
            if ($value === null) {
                if (!in_array($name, self::NULLABLE, true)) {
                    throw new InvalidForecastRequest($name, 'must not be null');
                }
                continue;  // unset: the service's default
            }
            match ($name) {
                'start_date' => $request->startDate($value),
                'end_date' => $request->endDate($value),
                'status' => $request->status($value),
                'horizon' => $request->horizon($value),
                'level' => $request->level($value),
                'model' => $request->model($value),
                'callback_url' => $request->callbackUrl($value),
                'refresh' => $request->refresh($value),
                'group_by' => $request->groupBy(...self::listOf($value, 'group_by')),
                'measure' => $request->measure($value),
                'frequency' => $request->frequency($value),
                'holidays' => $request->holidays($value),
                'events' => $request->events(self::listOf($value, 'events')),
                'inventory' => $request->inventory(...self::inventoryArgs($value)),
            };
        }
        return $request->validate();
    }

    /** A request as given: an array is read with fromArray(). */
    public static function from(self|array $request): self
    {
        return $request instanceof self ? $request->validate() : self::fromArray($request);
    }

    /** First and last day of the history to forecast from (default: the 36 complete months before today). */
    public function between(DateTimeInterface|string $start, DateTimeInterface|string $end): self
    {
        return $this->startDate($start)->endDate($end);
    }

    /** @param DateTimeInterface|string $date */
    public function startDate(mixed $date): self
    {
        $this->fields['start_date'] = self::date($date, 'start_date');
        return $this;
    }

    /** @param DateTimeInterface|string $date */
    public function endDate(mixed $date): self
    {
        $this->fields['end_date'] = self::date($date, 'end_date');
        return $this;
    }

    /** The Laravel sale status to read (default: completed). */
    public function status(mixed $status): self
    {
        $status = is_string($status) ? trim($status) : $status;
        if (!is_string($status) || !preg_match(self::STATUS_PATTERN, $status)) {
            throw new InvalidForecastRequest('status', 'must be 1 to 32 letters, digits, _ or -');
        }
        $this->fields['status'] = $status;
        return $this;
    }

    /** Periods to forecast: 1-24 months, 1-104 weeks or 1-366 days (checked against frequency() by validate()). */
    public function horizon(mixed $periods): self
    {
        if (is_string($periods) && is_numeric(trim($periods))) {
            $periods = trim($periods) + 0;  // "6" is 6, as the service reads it
        }
        if (is_float($periods) && floor($periods) === $periods) {
            $periods = (int) $periods;
        }
        if (!is_int($periods)) {
            throw new InvalidForecastRequest('horizon', 'must be a whole number');
        }
        if ($periods < 1 || $periods > Frequency::Day->maxHorizon()) {
            throw new InvalidForecastRequest('horizon', sprintf('must be between 1 and %d', Frequency::Day->maxHorizon()));
        }
        $this->fields['horizon'] = $periods;
        return $this;
    }

    /** The prediction interval's level, in % (50-99.9; default 90). */
    public function level(mixed $percent): self
    {
        if (is_string($percent) && is_numeric(trim($percent))) {
            $percent = trim($percent) + 0;  // "80" is 80, as the service reads it
        }
        if (!is_int($percent) && !is_float($percent)) {
            throw new InvalidForecastRequest('level', 'must be a number');
        }
        if ($percent < 50 || $percent > 99.9) {
            throw new InvalidForecastRequest('level', 'must be between 50 and 99.9');
        }
        $this->fields['level'] = $percent;
        return $this;
    }

    /** @param Model|string $model */
    public function model(mixed $model): self
    {
        $this->fields['model'] = self::enum(Model::class, $model, 'model')->value;
        return $this;
    }

    /** Where the service POSTs the signed final status: route('sales-forecast.webhook'), say. */
    public function callbackUrl(mixed $url): self
    {
        if (!is_string($url)) {
            throw new InvalidForecastRequest('callback_url', 'must be a string');
        }
        $url = trim($url);
        $parts = strlen($url) <= 2048 ? parse_url($url) : false;
        if (strlen($url) > 2048) {
            throw new InvalidForecastRequest('callback_url', 'must be at most 2048 characters');
        }
        if ($parts === false || preg_match('/[\x00-\x1f\x7f]/', $url)) {
            throw new InvalidForecastRequest('callback_url', 'is not a valid URL');
        }
        if (!in_array(strtolower($parts['scheme'] ?? ''), ['http', 'https'], true) || ($parts['host'] ?? '') === '') {
            throw new InvalidForecastRequest('callback_url', 'must be an absolute http(s) URL');
        }
        if (isset($parts['user']) || isset($parts['pass'])) {
            throw new InvalidForecastRequest('callback_url', 'must not carry credentials');
        }
        $this->fields['callback_url'] = $url;
        return $this;
    }

    /** Bypass the service's result cache. */
    public function refresh(mixed $refresh = true): self
    {
        if (!is_bool($refresh)) {
            throw new InvalidForecastRequest('refresh', 'must be true or false');
        }
        $this->fields['refresh'] = $refresh;
        return $this;
    }

    /** A grouped forecast: 1 to 3 sale-line fields, outermost first ('category', 'product_id'). */
    public function groupBy(mixed ...$fields): self
    {
        $fields = array_map(fn ($f) => is_string($f) ? trim($f) : $f, array_values($fields));
        if (count($fields) < 1 || count($fields) > self::MAX_GROUP_FIELDS) {
            throw new InvalidForecastRequest('group_by', sprintf('must name 1 to %d fields', self::MAX_GROUP_FIELDS));
        }
        foreach (array_values($fields) as $i => $name) {
            if (!is_string($name) || !preg_match(self::GROUP_FIELD_PATTERN, $name)) {
                throw new InvalidForecastRequest("group_by.$i", 'is not a field name (letters, digits and _, not starting with a digit, at most 64)');
            }
        }
        if (count(array_unique($fields)) !== count($fields)) {
            throw new InvalidForecastRequest('group_by', 'a field is named twice');
        }
        $this->fields['group_by'] = array_values($fields);
        return $this;
    }

    /** @param Measure|string $measure */
    public function measure(mixed $measure): self
    {
        $this->fields['measure'] = self::enum(Measure::class, $measure, 'measure')->value;
        return $this;
    }

    /** @param Frequency|string $frequency */
    public function frequency(mixed $frequency): self
    {
        $this->fields['frequency'] = self::enum(Frequency::class, $frequency, 'frequency')->value;
        return $this;
    }

    /** Public holidays of a country or region as a regressor ('US', 'US-CA', 'DE-BY'); [] or false: none. */
    /** @param string|array{}|false $country */
    public function holidays(mixed $country): self
    {
        if ($country === [] || $country === false) {
            $this->fields['holidays'] = [];
            return $this;
        }
        if (!is_string($country) || !preg_match(self::HOLIDAYS_PATTERN, $country)) {
            throw new InvalidForecastRequest('holidays', "must be a country code such as 'US', or a region such as 'US-CA' (or [] for none)");
        }
        $this->fields['holidays'] = $country;
        return $this;
    }

    /**
     * Known events (a sale, a launch), at most 500: each ['name' => ..., 'start' => 'YYYY-MM-DD',
     * 'end' => 'YYYY-MM-DD' (optional: one day)].
     */
    public function events(mixed $events): self
    {
        if (!is_array($events) || !array_is_list($events)) {
            throw new InvalidForecastRequest('events', 'must be a list');
        }
        if (count($events) > self::MAX_EVENTS) {
            throw new InvalidForecastRequest('events', sprintf('at most %d events', self::MAX_EVENTS));
        }
        $checked = [];
        foreach ($events as $i => $event) {
            if (!is_array($event) || array_is_list($event) && $event !== []) {
                throw new InvalidForecastRequest("events.$i", 'must be an object with name, start and end');
            }
            foreach (array_keys($event) as $key) {
                if (!in_array($key, ['name', 'start', 'end'], true)) {
                    throw new InvalidForecastRequest("events.$i.$key", 'unknown field');
                }
            }
            $name = is_string($event['name'] ?? null) ? trim($event['name']) : null;
            if ($name === null || $name === '' || mb_strlen($name) > 100 || preg_match('/[\x00-\x1f\x7f]/', $name)) {
                throw new InvalidForecastRequest("events.$i.name", 'must be a name of 1 to 100 printable characters');
            }
            if (!isset($event['start'])) {
                throw new InvalidForecastRequest("events.$i.start", 'is required');
            }
            $entry = ['name' => $name, 'start' => self::date($event['start'], "events.$i.start")];
            if (isset($event['end'])) {
                $entry['end'] = self::date($event['end'], "events.$i.end");
                if ($entry['end'] < $entry['start']) {
                    throw new InvalidForecastRequest("events.$i.end", 'must not be before start');
                }
            }
            $checked[] = $entry;
        }
        $this->fields['events'] = $checked;
        return $this;
    }

    /** Add one event (see events()). */
    public function event(string $name, DateTimeInterface|string $start, DateTimeInterface|string|null $end = null): self
    {
        $events = $this->fields['events'] ?? [];
        $events[] = array_filter(['name' => $name, 'start' => $start, 'end' => $end], fn ($v) => $v !== null);
        return $this->events(array_map(fn ($e) => array_map(fn ($v) => $v instanceof DateTimeInterface ? $v->format('Y-m-d') : $v, $e), $events));
    }

    /**
     * Stock advice with the forecast: the supplier's lead time (0-52 periods), how often stock is
     * reviewed (1-52, default 1) and the service level wanted (50-99.9 %, default 95).
     */
    public function inventory(mixed $leadTime, mixed $reviewPeriod = null, mixed $serviceLevel = null): self
    {
        $inventory = ['lead_time' => self::wholeIn($leadTime, 0, 52, 'inventory.lead_time')];
        if ($reviewPeriod !== null) {
            $inventory['review_period'] = self::wholeIn($reviewPeriod, 1, 52, 'inventory.review_period');
        }
        if ($serviceLevel !== null) {
            if (!is_int($serviceLevel) && !is_float($serviceLevel) || $serviceLevel < 50 || $serviceLevel > 99.9) {
                throw new InvalidForecastRequest('inventory.service_level', 'must be a number between 50 and 99.9');
            }
            $inventory['service_level'] = $serviceLevel;
        }
        $this->fields['inventory'] = $inventory;
        return $this;
    }

    /**
     * Check what depends on several fields; returns $this.
     *
     * @throws InvalidForecastRequest
     */
    public function validate(): self
    {
        $start = $this->fields['start_date'] ?? null;
        $end = $this->fields['end_date'] ?? null;
        if ($start !== null && $end !== null && $start > $end) {
            throw new InvalidForecastRequest('start_date', 'must not be after end_date');
        }
        $frequency = Frequency::from($this->fields['frequency'] ?? Frequency::Month->value);
        if (isset($this->fields['horizon']) && $this->fields['horizon'] > $frequency->maxHorizon()) {
            throw new InvalidForecastRequest('horizon', sprintf('must be between 1 and %d for frequency %s', $frequency->maxHorizon(), $frequency->value));
        }
        return $this;
    }

    /** The fields set, as the body of POST /api/v1/forecasts and the job's kwargs. */
    public function toArray(): array
    {
        return $this->fields;
    }

    public function jsonSerialize(): object
    {
        return (object) $this->fields;  // {} when empty: the default forecast
    }

    /** A field as it will be sent (null when unset). */
    public function get(string $field): mixed
    {
        return $this->fields[$field] ?? null;
    }

    public function grouped(): bool
    {
        return isset($this->fields['group_by']) || ($this->fields['measure'] ?? 'revenue') !== 'revenue';
    }

    /**
     * @template T of \BackedEnum
     * @param class-string<T> $enum
     * @return T
     */
    private static function enum(string $enum, mixed $value, string $field): \BackedEnum
    {
        if ($value instanceof $enum) {
            return $value;
        }
        $case = is_string($value) ? $enum::tryFrom($value) : null;  // exactly: the service does not trim these
        if ($case === null) {
            $names = implode(', ', array_map(fn ($c) => $c->value, $enum::cases()));
            throw new InvalidForecastRequest($field, "must be one of $names");
        }
        return $case;
    }

    private static function date(mixed $date, string $field): string
    {
        if ($date instanceof DateTimeInterface) {
            $date = $date->format('Y-m-d');
        }
        if (!is_string($date) || !preg_match('/^(\d{4})-(\d{2})-(\d{2})$/', trim($date), $m) || !checkdate((int) $m[2], (int) $m[3], (int) $m[1])) {
            throw new InvalidForecastRequest($field, 'must be a date, YYYY-MM-DD');
        }
        if ((int) $m[1] < self::MIN_YEAR || (int) $m[1] > self::MAX_YEAR) {
            throw new InvalidForecastRequest($field, sprintf('is out of range (%d-%d)', self::MIN_YEAR, self::MAX_YEAR));
        }
        return trim($date);
    }

    private static function wholeIn(mixed $value, int $min, int $max, string $field): int
    {
        if (!is_int($value) || $value < $min || $value > $max) {
            throw new InvalidForecastRequest($field, "must be a whole number between $min and $max");
        }
        return $value;
    }

    private static function listOf(mixed $value, string $field): array
    {
        if (!is_array($value) || !array_is_list($value)) {
            throw new InvalidForecastRequest($field, 'must be a list');
        }
        return $value;
    }

    /** @return array{0: mixed, 1: mixed, 2: mixed} */
    private static function inventoryArgs(mixed $value): array
    {
        if (!is_array($value) || ($value !== [] && array_is_list($value))) {
            throw new InvalidForecastRequest('inventory', 'must be an object with lead_time, review_period and service_level');
        }
        foreach (array_keys($value) as $key) {
            if (!in_array($key, ['lead_time', 'review_period', 'service_level'], true)) {
                throw new InvalidForecastRequest("inventory.$key", 'unknown field');
            }
        }
        if (!array_key_exists('lead_time', $value)) {
            throw new InvalidForecastRequest('inventory.lead_time', 'is required');
        }
        return [$value['lead_time'], $value['review_period'] ?? null, $value['service_level'] ?? null];
    }
}
