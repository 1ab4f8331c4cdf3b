"""Sale lines → the panel of every group at every level, per period of the job's frequency (docs/api.md §8, §10).

For ``group_by = (f1, f2, ...)`` the levels are the total (level 0), ``(f1,)`` (level 1),
``(f1, f2)`` (level 2), ...: each prefix of ``group_by`` is a level, and every group's parent is the
group one level up that shares its prefix. A null field is a group of its own (key ``None``).

Which periods count, which lines are out of range or in the period in progress, and what a
duplicate is: exactly as for the sales (:func:`shared.engine.aggregate.aggregate`, run on the line
ids, times and totals, and its period grid places the lines), so the panel's total revenue is the
sales series the single forecast would see. The period in progress is reported in the job's
measure (``total_sales`` is units for a ``units`` job) and counts its orders.

Measures: ``revenue`` is summed in integer cents (exact at every level), ``units`` sums
``quantity``, ``orders`` counts distinct ``sale_id`` per group and month (an order with two lines
of one product is one order of that product, and one order of the shop).

Each series' history starts at its own first month with a line (§5 as amended for §8): months
before it are not zeros of that series; months after it are, so a product that stopped selling
keeps its zeros. :func:`build_panel` is pure (arrays in, arrays out), so it can run where the lines
are and hand JSON-safe chunks of series to workers.
"""
from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Sequence

import numpy as np

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.errors import InvalidRequest
from shared.contract.schema import Measure
from shared.engine.aggregate import aggregate, first_occurrences, sum_by_month
from shared.engine.periods import PeriodGrid, local_midnight_ns
from shared.sources.lines import LineColumns
from shared.sources.transactions import TransactionColumns, validate_timezone

Key = dict[str, "str | None"]


# The panel's arrays, as its Redis codec stores them.
PANEL_ARRAYS = ("level", "parent", "values", "cents", "start", "lines", "total_orders")
PANEL_DEFLATE_LEVEL = 1  # zlib's fastest: most of what a daily panel holds is zeros


class _Deflating:
    """A write-only stream that deflates what is written to it (zipfile writes to it as to an
    unseekable file): :meth:`value` is the zlib stream of everything written."""

    def __init__(self, level: int) -> None:
        self._deflate = zlib.compressobj(level)
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        """Deflate ``data``; its length."""
        self._parts.append(self._deflate.compress(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the deflated parts are kept until :meth:`value`."""

    def read(self, *_: Any) -> bytes:
        """Not readable (numpy takes an object with ``read`` for a file, not a path)."""
        raise io.UnsupportedOperation("write-only")

    def value(self) -> bytes:
        """The whole zlib stream."""
        self._parts.append(self._deflate.flush())
        return b"".join(self._parts)


@dataclass
class Panel:
    """Every series of the hierarchy on one calendar of complete periods.

    Series are ordered by level (the total first), and within a level by key, so each group's
    children are contiguous. ``values[i, start[i]:]`` is series i's history; ``start[i] == T``
    means it has no line in any complete month.
    """

    group_by: tuple[str, ...]
    measure: Measure
    periods: list[str]
    keys: list[Key]
    level: np.ndarray  # int, 0 = total
    parent: np.ndarray  # int, -1 for the total
    values: np.ndarray  # float64 (n_series, T)
    cents: np.ndarray | None  # int64 (n_series, T): revenue only, exact
    start: np.ndarray  # int, first period index with a line
    lines: np.ndarray  # int64, lines used per series
    total_orders: np.ndarray  # int64 (T,), distinct sales per month, whatever the measure
    data_quality: dict[str, Any]
    frequency: Frequency = Frequency.MONTH
    _children: list[np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def n_levels(self) -> int:
        """Levels including the total: ``len(group_by) + 1``."""
        return len(self.group_by) + 1

    def level_indices(self, k: int) -> np.ndarray:
        """Positions of level ``k``'s series (0 = the total), in panel order."""
        return np.flatnonzero(self.level == k)

    @property
    def bottom(self) -> np.ndarray:
        """Positions of the bottom level's series (the full ``group_by``): the ones the others sum."""
        return self.level_indices(len(self.group_by))

    def history(self, i: int) -> np.ndarray:
        """Series ``i``'s history from its first month with a line (a view, not a copy); empty when it
        has no line in any complete month."""
        return self.values[i, self.start[i] :]

    def children(self, i: int) -> np.ndarray:
        """Positions of series ``i``'s direct children (empty at the bottom level); the index over all
        series is built on the first call and kept."""
        if self._children is None:
            order = np.argsort(self.parent, kind="stable")
            bounds = np.searchsorted(self.parent[order], np.arange(len(self) + 1))
            self._children = [order[bounds[j] : bounds[j + 1]] for j in range(len(self))]
        return self._children[i]

    def to_bytes(self) -> bytes:
        """The panel as an ``np.savez`` archive, deflated: its arrays, and the rest as JSON (no pickle
        either way: a worker loads only numbers and text from Redis). Deflated at zlib's fastest
        level: a daily panel is mostly zeros (the M5 shop's 30,571 series of 1,941 days: 456 MB
        as an archive, 33 MB deflated in 1.4 s, inflated in 0.8 s), and redis-py holds a value it
        sends several times over (a 454 MB SET peaked 1.36 GB above the process)."""
        meta = {
            "group_by": list(self.group_by),
            "measure": str(self.measure),
            "periods": list(self.periods),
            "keys": list(self.keys),
            "data_quality": self.data_quality,
            "has_cents": self.cents is not None,
            "frequency": str(self.frequency),
        }
        arrays = {name: getattr(self, name) for name in PANEL_ARRAYS if getattr(self, name) is not None}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        out = _Deflating(PANEL_DEFLATE_LEVEL)
        np.savez(out, **arrays)  # streamed: the archive is never whole in memory, only deflated
        return out.value()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Panel":
        """The panel :meth:`to_bytes` wrote (or, before it deflated them, the archive itself)."""
        if not blob.startswith(b"PK"):  # a zip archive starts so; a deflated one does not
            blob = zlib.decompress(blob)
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes())
        return cls(
            group_by=tuple(meta["group_by"]),
            measure=Measure(meta["measure"]),
            periods=meta["periods"],
            keys=meta["keys"],
            data_quality=meta["data_quality"],
            frequency=Frequency(meta.get("frequency", "month")),
            cents=arrays.pop("cents", None) if meta["has_cents"] else None,
            **{name: arrays[name] for name in PANEL_ARRAYS if name != "cents"},
        )

    def summing_matrix(self) -> Any:
        """S (n_series × n_bottom), scipy sparse CSR: row i sums the bottom series under i."""
        from scipy import sparse

        bottom = self.bottom
        n, b = len(self), bottom.size
        rows, cols = [], []
        for j, i in enumerate(bottom):
            node = int(i)
            while node >= 0:
                rows.append(node)
                cols.append(j)
                node = int(self.parent[node])
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, b))


def _distinct_count(cell: np.ndarray, sale: np.ndarray, size: int) -> np.ndarray:
    """Distinct sale ids per cell index (``0 <= cell < size``), as a flat int64 array of ``size``."""
    if cell.size == 0:
        return np.zeros(size, dtype=np.int64)
    order = np.lexsort((sale, cell))
    c, s = cell[order], sale[order]
    del order
    head = np.r_[True, (c[1:] != c[:-1]) | (s[1:] != s[:-1])]
    return np.bincount(c[head], minlength=size)


_RELEASED = np.zeros(0, dtype=np.int64)  # a column build_panel(consume=True) has let go of
_RELEASED_CODES = np.zeros(0, dtype=np.int32)

# A level's groups are numbered through a dense table of its (parent, code) combinations when the
# table is at most this many entries (a bitmap and a running count: no sort of the lines), else
# with np.unique. Both number the groups in the same (ascending) order.
DENSE_GROUPS = 1 << 26


def _number_groups(combo: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``combo`` (``0 <= combo < size``), ascending, and each line's rank
    among them (int32)."""
    if size <= DENSE_GROUPS:
        seen = np.zeros(size, dtype=bool)
        seen[combo] = True
        uniq = np.flatnonzero(seen)
        rank = np.cumsum(seen, dtype=np.int64) - 1
        del seen
        return uniq, rank.astype(np.int32)[combo]
    uniq, gid = np.unique(combo, return_inverse=True)
    return uniq, gid.astype(np.int32)


def build_panel(
    lines: LineColumns,
    group_by: Sequence[str],
    measure: Measure | str,
    *,
    timezone: str,
    today: date,
    start_date: date,
    end_date: date,
    frequency: Frequency | str = Frequency.MONTH,
    consume: bool = False,
) -> Panel:
    """The panel of ``lines`` for ``group_by`` and ``measure`` (see the module docstring).

    Its memory is the lines' columns, the panel, and a few arrays of one integer a line: nothing
    of one value per series and period other than the panel itself (docs/scaling.md §2: 20 M lines
    of 30,571 daily series). ``consume``: each of ``lines``' columns is released as soon as the
    panel no longer needs it (``lines`` is left empty), for a caller that builds one panel from
    its lines: 20 M lines are ~1 GB."""
    group_by = tuple(group_by)
    measure = Measure(measure)
    for f in group_by:
        if f not in lines.codes:
            raise ValueError(f"lines were parsed without group field {f!r}")
        if lines.rows_fetched and lines.present.get(f, 0) == 0:
            raise InvalidRequest(f"group_by: no fetched sale line has the field {f!r}", field="group_by")

    # Periods, rejections and duplicates exactly as the sales pipeline counts them.
    as_sales = TransactionColumns(
        ids=lines.ids, ts_ns=lines.ts_ns, cents=lines.cents, rows_fetched=lines.rows_fetched, rejected=lines.rejected
    )
    series = aggregate(
        as_sales, frequency=frequency, timezone=timezone, today=today, start_date=start_date, end_date=end_date
    )
    del as_sales
    periods = series.periods
    T = len(periods)
    dq = dict(series.data_quality)
    grid = series.grid
    assert grid is not None and len(grid) == T

    # The lines used: the first of each id, inside the grid. None: all of them, in place (no copy).
    keep = first_occurrences(lines.ids)
    unique = None if keep is None else np.flatnonzero(keep)
    del keep
    _partial_in_measure(dq, lines, unique, measure, series.frequency, timezone, start_date, end_date, today)
    inside = grid.inside(lines.ts_ns if unique is None else lines.ts_ns[unique])
    if unique is None:
        idx = None if inside.all() else np.flatnonzero(inside)
    else:
        idx = unique[inside]
    del unique, inside

    def used(column: np.ndarray) -> np.ndarray:
        return column if idx is None else column[idx]

    month = grid.place(used(lines.ts_ns))
    n_used = int(month.size)
    sale = used(lines.sale_ids)
    if consume:
        lines.ids = lines.ts_ns = lines.sale_ids = _RELEASED
        if measure is not Measure.REVENUE:
            lines.cents = _RELEASED
        if measure is not Measure.UNITS:
            lines.quantity = _RELEASED.astype(np.float64)
    # The total's orders first, while little else is held (a sort of every line).
    orders = _distinct_count(month, sale, T) if T else np.zeros(0, np.int64)
    if measure is not Measure.ORDERS:
        del sale

    # Group ids level by level: gid_k = rank of (gid_{k-1}, code_k) among the combinations present
    # (int32 a line). Each level above the bottom is summed as soon as it is numbered, into an
    # array of its own (a few rows), and its ids are dropped; the bottom level's sums, placed at
    # its rows of a whole (n_series * T) array, are that array: the largest level needs no copy.
    bottom = len(group_by)
    level_parent = [np.array([-1], dtype=np.int64)]
    level_codes: list[dict[str, np.ndarray]] = [{}]
    level_first: list[np.ndarray] = []
    level_lines: list[np.ndarray] = []
    level_sums: list[np.ndarray] = []

    def sums_of(cell: np.ndarray, size: int) -> np.ndarray:
        if measure is Measure.REVENUE:
            return sum_by_month(cell, used(lines.cents), size)
        if measure is Measure.UNITS:
            return np.bincount(cell, weights=used(lines.quantity), minlength=size) if T else np.zeros(size)
        return _distinct_count(cell, sale, size)

    def first_and_count(gid: np.ndarray | None, G: int) -> None:
        first = np.full(G, T, dtype=np.int64)
        if gid is None:  # the total: every line
            level_lines.append(np.array([n_used], dtype=np.int64))
            if n_used:
                first[0] = int(month.min())
        else:
            level_lines.append(np.bincount(gid, minlength=G).astype(np.int64))
            np.minimum.at(first, gid, month)
        level_first.append(first)

    first_and_count(None, 1)
    level_sums.append(sums_of(month, T))
    gid: np.ndarray | None = None
    for k, f in enumerate(group_by, start=1):
        radix = len(lines.categories[f]) + 1
        combo = used(lines.codes[f]).astype(np.int64) + 1
        if consume:
            lines.codes[f] = _RELEASED_CODES
        if gid is not None:
            combo += gid.astype(np.int64) * radix
        uniq, gid = _number_groups(combo, level_parent[-1].size * radix)
        del combo
        parent_local = uniq // radix
        codes_here = {g: level_codes[-1][g][parent_local] for g in group_by[: k - 1]}
        codes_here[f] = (uniq % radix - 1).astype(np.int64)
        level_parent.append(parent_local.astype(np.int64))
        level_codes.append(codes_here)
        G = int(uniq.size)
        first_and_count(gid, G)
        if k < bottom:
            cell = gid.astype(np.int64) * T
            cell += month
            level_sums.append(sums_of(cell, G * T))
            del cell

    offsets = np.cumsum([0] + [p.size for p in level_parent])
    n_series = int(offsets[-1])
    if bottom:
        cell = gid.astype(np.int64) * T  # type: ignore[union-attr]
        del gid
        cell += month
        cell += offsets[bottom] * T
        del month
        whole = sums_of(cell, n_series * T).reshape(n_series, T)
        del cell
    else:
        whole = level_sums.pop().reshape(1, T)
    for k, sums in enumerate(level_sums):
        whole[offsets[k] : offsets[k + 1]] = sums.reshape(-1, T)
    del level_sums
    if measure is Measure.REVENUE:
        cents_m, values = whole, whole / 100.0
    else:
        cents_m, values = None, whole.astype(np.float64, copy=False)

    keys: list[Key] = []
    level = np.zeros(n_series, dtype=np.int64)
    parent = np.full(n_series, -1, dtype=np.int64)
    for k in range(bottom + 1):
        rows = slice(offsets[k], offsets[k + 1])
        level[rows] = k
        if k:
            parent[rows] = level_parent[k] + offsets[k - 1]
            cats = {f: lines.categories[f] for f in group_by[:k]}
            codes = level_codes[k]
            for j in range(level_parent[k].size):
                keys.append({f: (None if codes[f][j] < 0 else cats[f][int(codes[f][j])]) for f in group_by[:k]})
        else:
            keys.append({})
    start = np.concatenate(level_first)
    line_counts = np.concatenate(level_lines)

    dq["series"] = n_series
    return Panel(
        group_by=group_by,
        measure=measure,
        periods=periods,
        keys=keys,
        level=level,
        parent=parent,
        values=values,  # type: ignore[arg-type]
        cents=cents_m,
        start=start,
        lines=line_counts,
        total_orders=orders,
        data_quality=dq,
        frequency=series.frequency,
    )


def _partial_in_measure(
    dq: dict[str, Any],
    lines: LineColumns,
    unique: np.ndarray | None,
    measure: Measure,
    frequency: Frequency,
    timezone: str,
    start_date: date,
    end_date: date,
    today: date,
) -> None:
    """The period in progress in the job's measure: ``total_sales`` is its revenue, units or
    orders, ``transaction_count`` its orders (as ``actual_sales`` counts them), whatever the measure."""
    partial = dq.get("partial_period")
    if partial is None:
        return
    tz = validate_timezone(timezone)
    p = calendar.parse_label(partial["period"], frequency)
    lo = max(PeriodGrid.spanning(p, 1, frequency, timezone).bounds[0], local_midnight_ns(start_date, tz))
    hi = local_midnight_ns(min(end_date, today) + timedelta(days=1), tz)
    ts = lines.ts_ns if unique is None else lines.ts_ns[unique]
    within = np.flatnonzero((ts >= lo) & (ts < hi))
    rows = within if unique is None else unique[within]
    orders = int(np.unique(lines.sale_ids[rows]).size)
    if measure is Measure.REVENUE:
        value = int(sum_by_month(np.zeros(rows.size, dtype=np.int64), lines.cents[rows], 1)[0]) / 100
    elif measure is Measure.UNITS:
        value = round(float(lines.quantity[rows].sum()), 6)
    else:
        value = float(orders)
    partial = {**partial, "total_sales": value, "transaction_count": orders, "measure": measure.value}
    dq["partial_period"] = partial
    if "partial_month" in dq:
        dq["partial_month"] = {**dq["partial_month"], "total_sales": value, "transaction_count": orders}
