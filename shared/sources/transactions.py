"""Sales rows → validated columnar arrays (docs/api.md §3).

Laravel hands us rows as JSON objects, a page at a time. Keeping a million dicts alive would cost
hundreds of megabytes, so each page is reduced at once to three int64 arrays (id, UTC instant in ns,
grand total in cents) and the page itself is dropped. Rows that cannot be used are not silently lost:
they are counted by reason, and the counts end up in the result's ``data_quality``.

Exactness: grand totals are kept as integer cents. Decimal strings (``"1234.50"``, Laravel's
``decimal:2`` cast) and JSON numbers are both converted without float drift: a vectorised float path
is used only where float error provably cannot change the rounded cent, everything else (ties, huge
values) goes through :class:`decimal.Decimal` with round-half-even.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from os import PathLike
from typing import Any, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from shared.contract.errors import InvalidRequest


class RejectReason(StrEnum):
    """Why a row was not used; the values are the keys of ``data_quality.rows_rejected``."""

    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"
    MISSING_CREATED_AT = "missing_created_at"
    BAD_CREATED_AT = "bad_created_at"
    MISSING_GRAND_TOTAL = "missing_grand_total"
    BAD_GRAND_TOTAL = "bad_grand_total"


# Reasons by index, for the per-row codes kept of rejected rows (ColumnBuilder._bad_reasons).
_REASONS: tuple[RejectReason, ...] = tuple(RejectReason)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# |cents| below this: a correctly rounded float parse times 100 is off by < 1e12 * 2.3e-16 ≈ 2e-4
# of a cent, far inside the 0.01 margin kept from a rounding tie (see cents_page).
_FAST_CENTS_LIMIT = 1e12
_TIE_MARGIN = 0.49
_CENT = Decimal("0.01")


def validate_timezone(name: str) -> ZoneInfo:
    """The zone for ``name``, or a clear error (SALES_TIMEZONE is operator input)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {name!r}", field="timezone") from exc


def hash_id(value: str) -> int:
    """A stable signed int64 for a non-numeric id (UUID, ULID...): blake2b, 8 bytes."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class TransactionColumns:
    """Parsed, valid rows as parallel int64 arrays. Duplicates are still in; aggregation drops them.

    ``duplicates`` counts the repeats already settled while parsing: rejected rows whose id was
    seen before (see :meth:`ColumnBuilder.finish`). Aggregation adds the valid rows' repeats.
    """

    ids: np.ndarray
    ts_ns: np.ndarray
    cents: np.ndarray
    rows_fetched: int
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> "TransactionColumns":
        """Columns with no rows (and nothing fetched or rejected), of the dtypes aggregation expects."""
        z = np.zeros(0, dtype=np.int64)
        return cls(ids=z, ts_ns=z.copy(), cents=z.copy(), rows_fetched=0, rejected={})


# ---------------------------------------------------------------- per-value converters (slow paths)

def _id_value(v: Any) -> int | RejectReason:
    t = type(v)
    if t is int:
        return v if _INT64_MIN <= v <= _INT64_MAX else hash_id(str(v))
    if v is None:
        return RejectReason.MISSING_ID
    if t is str:
        s = v.strip()
        if not s:
            return RejectReason.MISSING_ID
        # "123" and 123 are the same row: JSON encoders differ on big integer ids.
        if s.isascii() and s.isdigit():
            n = int(s)
            return n if n <= _INT64_MAX else hash_id(s)
        return hash_id(s)
    if t is float and math.isfinite(v) and v.is_integer():
        return int(v) if _INT64_MIN <= v <= _INT64_MAX else RejectReason.BAD_ID
    return RejectReason.BAD_ID


def _cents_exact(v: Any) -> int | RejectReason:
    """Cents for one value via Decimal (ties, huge values, odd strings)."""
    t = type(v)
    if v is None:
        return RejectReason.MISSING_GRAND_TOTAL
    if t is bool:  # bool is an int subclass; True is not a price
        return RejectReason.BAD_GRAND_TOTAL
    if t is int:
        d = Decimal(v)
    elif t is float:
        if not math.isfinite(v):
            return RejectReason.BAD_GRAND_TOTAL
        # repr() is the shortest text that round-trips: the number as the JSON text wrote it.
        d = Decimal(repr(v))
    elif t is str:
        s = v.strip()
        if not s:
            return RejectReason.MISSING_GRAND_TOTAL
        try:
            d = Decimal(s)
        except InvalidOperation:
            return RejectReason.BAD_GRAND_TOTAL
    else:
        return RejectReason.BAD_GRAND_TOTAL
    if not d.is_finite():
        return RejectReason.BAD_GRAND_TOTAL
    try:
        c = int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation:  # exponent too large for the context
        return RejectReason.BAD_GRAND_TOTAL
    return c if _INT64_MIN <= c <= _INT64_MAX else RejectReason.BAD_GRAND_TOTAL


_NUMERIC_TYPES = frozenset({int, float, str})


def cents_page(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(cents int64, reason codes int8: 0 ok, 1 missing, 2 bad) for one page of grand totals."""
    n = len(values)
    out = np.zeros(n, dtype=np.int64)
    code = np.zeros(n, dtype=np.int8)
    slow = np.ones(n, dtype=bool)
    if n and set(map(type, values)) <= _NUMERIC_TYPES:
        try:
            f = np.array(values, dtype=np.float64)
        except (ValueError, OverflowError):
            f = None  # one odd string spoils the batch: fall back to per-value below
        if f is not None:
            with np.errstate(invalid="ignore", over="ignore"):
                v = f * 100.0
                r = np.rint(v)
                fast = np.isfinite(v) & (np.abs(v) < _FAST_CENTS_LIMIT) & (np.abs(v - r) < _TIE_MARGIN)
            out[fast] = r[fast].astype(np.int64)
            slow = ~fast
    for i in np.flatnonzero(slow):
        c = _cents_exact(values[i])
        if type(c) is int:
            out[i] = c
        else:
            code[i] = 1 if c is RejectReason.MISSING_GRAND_TOTAL else 2
    return out, code


def ids_page(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, reason codes int8: 0 ok, 1 missing, 2 bad) for one page of ids."""
    n = len(values)
    if n and set(map(type, values)) == {int}:
        try:
            return np.array(values, dtype=np.int64), np.zeros(n, dtype=np.int8)
        except OverflowError:
            pass
    out = np.zeros(n, dtype=np.int64)
    code = np.zeros(n, dtype=np.int8)
    for i, v in enumerate(values):
        r = _id_value(v)
        if type(r) is int:
            out[i] = r
        else:
            code[i] = 1 if r is RejectReason.MISSING_ID else 2
    return out, code


def _has_offset(s: str) -> bool:
    # The date part (first 10 chars) has dashes of its own; a zone can only follow the time.
    tail = s[10:]
    return tail.endswith(("Z", "z")) or "+" in tail or "-" in tail


class RowCounts:
    """What every row parser counts: the rows fetched, and the rows rejected by reason (the keys of
    ``data_quality.rows_rejected``). :class:`ColumnBuilder` and the line parser share it."""

    def __init__(self) -> None:
        self._rows_fetched = 0
        self._rejected: dict[str, int] = {}

    def _reject(self, reason: StrEnum, count: int) -> None:
        if count:
            self._rejected[reason.value] = self._rejected.get(reason.value, 0) + count

    def _objects(self, rows: Sequence[Any], not_an_object: StrEnum) -> Sequence[Any]:
        """The rows that are JSON objects; any other is counted as fetched and rejected."""
        if all(type(r) is dict for r in rows):
            return rows
        objs = [r for r in rows if isinstance(r, dict)]
        self._reject(not_an_object, len(rows) - len(objs))
        self._rows_fetched += len(rows) - len(objs)
        return objs

    def _reject_first_failures(
        self, ok: np.ndarray, checks: Iterable[tuple[np.ndarray, StrEnum, StrEnum]]
    ) -> list[tuple[StrEnum, np.ndarray]]:
        """Count each row that is not ``ok`` once, under its first failing field: ``checks`` are
        (reason codes: 0 ok, 1 missing, 2 bad; the missing reason; the bad reason) in field order.
        Returns (reason, the rows given it) pairs, in the order counted."""
        bad = ~ok
        given = []
        for codes, missing, wrong in checks:
            here = bad & (codes != 0)
            for reason, rows in ((missing, here & (codes == 1)), (wrong, here & (codes == 2))):
                self._reject(reason, int(np.count_nonzero(rows)))
                given.append((reason, rows))
            bad &= ~here
        return given


class ColumnBuilder(RowCounts):
    """Accumulates pages of rows into :class:`TransactionColumns`; memory is O(valid rows × 24 B)."""

    def __init__(self, timezone: str = "UTC") -> None:
        super().__init__()
        self.timezone = timezone
        self._tz = validate_timezone(timezone)
        self._is_utc = timezone in ("UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT")
        self._ids: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []
        self._cents: list[np.ndarray] = []
        # Rejected rows that still have a usable id, and why each was rejected: a bad row that
        # Laravel repeats on a later page is one rejection and one duplicate, not two rejections.
        self._bad_ids: list[np.ndarray] = []
        self._bad_reasons: list[np.ndarray] = []

    # ------------------------------------------------------------------ input
    def add_rows(self, rows: Sequence[Any]) -> None:
        """Parse one page of row objects; anything that is not a JSON object is counted and skipped."""
        objs = self._objects(rows, RejectReason.NOT_AN_OBJECT)
        self.add_fields(
            [r.get("id") for r in objs],
            [r.get("created_at") for r in objs],
            [r.get("grand_total") for r in objs],
        )

    def add_fields(self, ids: list[Any], created_at: list[Any], grand_total: list[Any]) -> None:
        """Parse one batch given as three parallel lists (used by :meth:`add_rows` and CSV input)."""
        n = len(ids)
        if not (len(created_at) == len(grand_total) == n):
            raise ValueError("ids, created_at and grand_total must have the same length")
        self._rows_fetched += n
        if n == 0:
            return
        id_arr, id_code = ids_page(ids)
        ts_arr, ts_code = self._timestamps_page(created_at)
        cents_arr, c_code = cents_page(grand_total)

        # One reason per row, first failing field wins, so a row is never counted twice.
        ok = (id_code == 0) & (ts_code == 0) & (c_code == 0)
        if not ok.all():
            reason = np.zeros(n, dtype=np.int8)  # index into _REASONS, for rows with a usable id
            for given, rows in self._reject_first_failures(ok, (
                (id_code, RejectReason.MISSING_ID, RejectReason.BAD_ID),
                (ts_code, RejectReason.MISSING_CREATED_AT, RejectReason.BAD_CREATED_AT),
                (c_code, RejectReason.MISSING_GRAND_TOTAL, RejectReason.BAD_GRAND_TOTAL),
            )):
                reason[rows] = _REASONS.index(given)
            with_id = ~ok & (id_code == 0)
            if with_id.any():
                self._bad_ids.append(id_arr[with_id])
                self._bad_reasons.append(reason[with_id])
            id_arr, ts_arr, cents_arr = id_arr[ok], ts_arr[ok], cents_arr[ok]
        self._ids.append(id_arr)
        self._ts.append(ts_arr)
        self._cents.append(cents_arr)

    def _timestamps_page(self, values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(UTC ns int64, reason codes) for one page of created_at values, parsed vectorised."""
        n = len(values)
        out = np.zeros(n, dtype=np.int64)
        code = np.zeros(n, dtype=np.int8)
        if set(map(type, values)) == {str} and all(values):
            strs = values
            idx_str = None
        else:
            idx_str = []
            strs = []
            for i, v in enumerate(values):
                if type(v) is str and v.strip():
                    idx_str.append(i)
                    strs.append(v)
                else:
                    code[i] = 1 if v is None or type(v) is str else 2
        if not strs:
            return out, code
        aware = np.fromiter((_has_offset(s) for s in strs), dtype=bool, count=len(strs))
        parsed = np.zeros(len(strs), dtype=np.int64)
        nat = np.zeros(len(strs), dtype=bool)
        n_aware = int(aware.sum())
        if n_aware == len(strs) or self._is_utc:
            # Every string either carries its zone or is naive in UTC: one parse does all.
            parsed, nat = self._parse(strs, utc=True)
        else:
            if n_aware:
                sel = np.flatnonzero(aware)
                p, z = self._parse([strs[i] for i in sel], utc=True)
                parsed[sel], nat[sel] = p, z
            sel = np.flatnonzero(~aware)
            p, z = self._parse([strs[i] for i in sel], utc=False)
            parsed[sel], nat[sel] = p, z
        if idx_str is None:
            out[:] = parsed
            code[nat] = 2
        else:
            ix = np.asarray(idx_str, dtype=np.intp)
            out[ix] = parsed
            code[ix[nat]] = 2
        return out, code

    def _parse(self, strs: list[str], *, utc: bool) -> tuple[np.ndarray, np.ndarray]:
        # format="ISO8601" accepts "T" or space, fractions, Z and ±hh:mm; anything else → NaT.
        dti = pd.to_datetime(strs, format="ISO8601", utc=utc, errors="coerce")
        if not utc:
            # Wall-clock times in the sales zone. In the repeated autumn hour we take the first
            # (DST) reading; a time in the spring gap moves forward — both are an hour at most.
            dti = dti.tz_localize(
                self._tz.key, ambiguous=np.ones(len(dti), dtype=bool), nonexistent="shift_forward"
            )
        nat = np.asarray(dti.isna())
        return dti.asi8.copy(), nat

    def _settle_repeated_bad_rows(self, valid_ids: np.ndarray) -> int:
        """Turn rejections of repeated rows into duplicates; returns how many were turned.

        Rows that share an id count once (docs/api.md §3): as used when any copy is valid (the
        rejected copies are duplicates of it), otherwise as one rejection (the first copy's
        reason) and duplicates for the rest. Rows without a usable id cannot be matched and stay
        rejections each.
        """
        if not self._bad_ids:
            return 0
        ids = np.concatenate(self._bad_ids)
        reasons = np.concatenate(self._bad_reasons)
        self._bad_ids, self._bad_reasons = [], []
        _, first = np.unique(ids, return_index=True)  # the first copy of each id, in page order
        repeat = np.ones(ids.shape[0], dtype=bool)
        repeat[first] = False
        repeat |= np.isin(ids, valid_ids)
        for index, count in zip(*np.unique(reasons[repeat], return_counts=True)):
            key = _REASONS[int(index)].value
            self._rejected[key] -= int(count)
            if not self._rejected[key]:
                del self._rejected[key]
        return int(np.count_nonzero(repeat))

    # ------------------------------------------------------------------ output
    def finish(self) -> TransactionColumns:
        """The parsed rows as :class:`TransactionColumns`, after settling rejected rows whose id repeats
        into duplicates (CONTRACT §3); the parts are released, so call it once, after the last page."""
        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

        ids = cat(self._ids)
        duplicates = self._settle_repeated_bad_rows(ids)
        cols = TransactionColumns(
            ids=ids,
            ts_ns=cat(self._ts),
            cents=cat(self._cents),
            rows_fetched=self._rows_fetched,
            rejected=dict(self._rejected),
            duplicates=duplicates,
        )
        self._ids, self._ts, self._cents = [], [], []
        return cols


def pages(rows: Iterable[Any], page_size: int) -> Iterator[list[Any]]:
    """``rows`` in lists of ``page_size`` (the last may be shorter), as the parsers take them."""
    page: list[Any] = []
    for row in rows:
        page.append(row)
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


def columns_from_rows(rows: Iterable[Any], timezone: str = "UTC", *, page_size: int = 10_000) -> TransactionColumns:
    """Parse rows already in memory (tests, the demo source), a page at a time."""
    builder = ColumnBuilder(timezone)
    for page in pages(rows, page_size):
        builder.add_rows(page)
    return builder.finish()


CSV_COLUMNS = ("id", "created_at", "grand_total")


def read_csv(path: str | PathLike[str], timezone: str = "UTC", *, chunksize: int = 100_000) -> TransactionColumns:
    """Rows from a CSV with columns ``id,created_at,grand_total`` (others ignored), for the CLI.

    Every cell is read as text so decimal totals stay exact; empty cells count as missing.
    """
    builder = ColumnBuilder(timezone)
    try:
        reader = pd.read_csv(
            path, dtype=str, keep_default_na=False, chunksize=chunksize, skipinitialspace=True
        )
        for chunk in reader:
            missing = [c for c in CSV_COLUMNS if c not in chunk.columns]
            if missing:
                raise InvalidRequest(
                    f"CSV {path}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}",
                    field="csv",
                )
            builder.add_fields(*(chunk[c].tolist() for c in CSV_COLUMNS))
    except pd.errors.EmptyDataError as exc:
        raise InvalidRequest(f"CSV {path} is empty", field="csv") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidRequest(f"CSV {path} cannot be read: {exc}", field="csv") from exc
    return builder.finish()
