"""Stock rows → the stock of each product (docs/api.md §3, stock; §12).

``GET {LARAVEL_API_URL}{LARAVEL_STOCK_PATH}`` is read with the sales client (same headers,
paginators, retries and deadline). Each row is ``{"product_id" | "sku", "on_hand", "on_order"?,
"min_order"?, "pack_size"?}``: quantities as numbers or decimal strings. A row keyed by
``product_id`` and ``sku`` is found under both. Keys are normalised as group keys are
(:func:`shared.sources.lines.key_str`: ``17`` and ``"17"`` are the same product).

Like sales rows, a row that cannot be used is never silently used or dropped: it is counted by
reason (the first failing field wins), and ``rows_fetched == rows_used + sum(rejected) +
duplicates`` (a product listed twice counts once, the first row wins).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterable

from shared.sources.lines import key_str

KEY_FIELDS = ("product_id", "sku")


class StockRejectReason(StrEnum):
    """Why a stock row was not used; the values are the keys of ``data_quality.stock.rows_rejected``."""

    NOT_AN_OBJECT = "not_an_object"
    MISSING_KEY = "missing_product_id_and_sku"
    MISSING_ON_HAND = "missing_on_hand"
    BAD_ON_HAND = "bad_on_hand"
    BAD_ON_ORDER = "bad_on_order"
    BAD_MIN_ORDER = "bad_min_order"
    BAD_PACK_SIZE = "bad_pack_size"


@dataclass(frozen=True)
class StockRow:
    """One product's stock, in units."""

    on_hand: float
    on_order: float = 0.0
    min_order: float | None = None
    pack_size: float | None = None


@dataclass
class Stock:
    """The stock Laravel listed, by key field and key; ``served`` False when it has no stock endpoint."""

    served: bool
    rows: dict[str, dict[str, StockRow]] = field(default_factory=lambda: {f: {} for f in KEY_FIELDS})
    rows_fetched: int = 0
    rows_used: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0

    @classmethod
    def absent(cls) -> "Stock":
        """No stock endpoint (Laravel answered 404)."""
        return cls(served=False)

    def find(self, key: dict[str, str | None]) -> tuple[str, StockRow | None] | None:
        """(the key field used, the row or None) for a series key; None when the key names neither
        product_id nor sku (not a product: no stock figures)."""
        for f in KEY_FIELDS:
            if f in key:
                value = key[f]
                return f, (self.rows[f].get(value) if value is not None else None)
        return None

    def digest(self) -> str:
        """A hash of what was listed: a cached result is reused only for the same stock."""
        blob = json.dumps(
            {"served": self.served, "rows": {f: {k: list(r.__dict__.values()) for k, r in sorted(v.items())}
                                             for f, v in self.rows.items()}},
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def quality(self) -> dict[str, Any]:
        """``data_quality.stock``'s counts (the matching counts are added by whoever matches series)."""
        return {
            "served": self.served,
            "rows_fetched": self.rows_fetched,
            "rows_used": self.rows_used,
            "rows_rejected": dict(self.rejected),
            "duplicates": self.duplicates,
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (kept in Redis between a grouped job's plan and its fan-in)."""
        return {**self.quality(), "rows": {f: {k: r.__dict__ for k, r in v.items()} for f, v in self.rows.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Stock":
        """The stock back from :meth:`to_json`'s form, as a grouped job keeps it in Redis."""
        return cls(
            served=bool(data["served"]),
            rows={f: {k: StockRow(**r) for k, r in data["rows"].get(f, {}).items()} for f in KEY_FIELDS},
            rows_fetched=int(data["rows_fetched"]),
            rows_used=int(data["rows_used"]),
            rejected=dict(data["rows_rejected"]),
            duplicates=int(data["duplicates"]),
        )


_MISSING = object()


def _quantity(value: Any) -> float | None | object:
    """A finite number (or decimal string) → float; absent/null/"" → _MISSING; anything else → None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return _MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


class StockBuilder:
    """Accumulates pages of stock rows into :class:`Stock` (a ``PageSink`` for the client)."""

    def __init__(self) -> None:
        self.stock = Stock(served=True)
        self._seen: set[tuple[str | None, str | None]] = set()

    def _reject(self, reason: StockRejectReason) -> None:
        self.stock.rejected[reason.value] = self.stock.rejected.get(reason.value, 0) + 1

    def add_rows(self, rows: list[Any]) -> None:
        """Parse one page of rows."""
        for row in rows:
            self.stock.rows_fetched += 1
            parsed = self._parse(row)
            if isinstance(parsed, StockRejectReason):
                self._reject(parsed)
                continue
            keys, item = parsed
            if keys in self._seen:
                self.stock.duplicates += 1
                continue
            self._seen.add(keys)
            self.stock.rows_used += 1
            for f, k in zip(KEY_FIELDS, keys):
                if k is not None:
                    self.stock.rows[f].setdefault(k, item)

    @staticmethod
    def _parse(row: Any) -> tuple[tuple[str | None, str | None], StockRow] | StockRejectReason:
        R = StockRejectReason
        if not isinstance(row, dict):
            return R.NOT_AN_OBJECT
        keys = tuple(key_str(row.get(f)) for f in KEY_FIELDS)
        if all(k is None for k in keys):
            return R.MISSING_KEY
        on_hand = _quantity(row.get("on_hand"))
        if on_hand is _MISSING:
            return R.MISSING_ON_HAND
        if on_hand is None:
            return R.BAD_ON_HAND
        on_order = _quantity(row.get("on_order"))
        if on_order is None or (on_order is not _MISSING and on_order < 0):  # type: ignore[operator]
            return R.BAD_ON_ORDER
        min_order = _quantity(row.get("min_order"))
        if min_order is None or (min_order is not _MISSING and min_order < 0):  # type: ignore[operator]
            return R.BAD_MIN_ORDER
        pack_size = _quantity(row.get("pack_size"))
        if pack_size is None or (pack_size is not _MISSING and pack_size <= 0):  # type: ignore[operator]
            return R.BAD_PACK_SIZE
        return keys, StockRow(  # type: ignore[return-value]
            on_hand=float(on_hand),  # type: ignore[arg-type]
            on_order=0.0 if on_order is _MISSING else float(on_order),  # type: ignore[arg-type]
            min_order=None if min_order is _MISSING else float(min_order),  # type: ignore[arg-type]
            pack_size=None if pack_size is _MISSING else float(pack_size),  # type: ignore[arg-type]
        )

    def finish(self) -> Stock:
        """The parsed stock (call once, after the last page)."""
        return self.stock


def stock_from_rows(rows: Iterable[Any]) -> Stock:
    """Parse stock rows already in memory (tests, a CSV file)."""
    builder = StockBuilder()
    builder.add_rows(list(rows))
    return builder.finish()


def fetch_stock(client: Any, path: str, *, today: Any, deadline: Any = None) -> Stock:
    """Every page of ``{LARAVEL_API_URL}{path}`` through ``client`` (a LaravelClient: the sales'
    paginators, retries and deadline). A 404 is no stock endpoint: :meth:`Stock.absent`. Any other
    failure is the job's, as for sales (retried, then ``upstream_unavailable``/``upstream_invalid``)."""
    from shared.contract.errors import UpstreamNotFound

    try:
        return client.fetch_pages(StockBuilder(), today, today, "completed", path=path, deadline=deadline)
    except UpstreamNotFound:
        return Stock.absent()
