"""Sale lines → validated columns (docs/api.md §3, sale lines; §8).

A sale line is ``{"id", "sale_id", "created_at", "line_total", "quantity", <group fields>...}``.
Like the sales (:mod:`shared.sources.transactions`), each page is reduced at once to arrays and dropped:
two million lines become a few int64/float64 arrays and one small int32 code array per group field,
never two million dicts.

* ``line_total`` is kept as exact integer cents (same parser as ``grand_total``).
* ``quantity`` is a float64 (a number, or a decimal string).
* Group fields are *categorical*: each value is normalised to a string key (``17`` and ``"17"``
  are the same product), null / missing / empty is code ``-1`` (the ``null`` group of §8), and the
  codes index :attr:`LineColumns.categories`. Only the fields asked for are read.

Rows that cannot be used are counted by reason (first failing field wins), so
``rows_fetched == len(columns) + sum(rejected.values())`` before de-duplication; duplicates (the
same line ``id`` on two pages) are dropped later, in :mod:`shared.engine.panel`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from os import PathLike
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from shared.contract.errors import InvalidRequest, TooManySeries
from shared.sources.memory import release_free_memory
from shared.sources.transactions import ColumnBuilder, RowCounts, cents_page, ids_page, pages


class LineRejectReason(StrEnum):
    """Why a line was not used; the values are the keys of ``data_quality.rows_rejected``."""

    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"
    MISSING_SALE_ID = "missing_sale_id"
    BAD_SALE_ID = "bad_sale_id"
    MISSING_CREATED_AT = "missing_created_at"
    BAD_CREATED_AT = "bad_created_at"
    MISSING_LINE_TOTAL = "missing_line_total"
    BAD_LINE_TOTAL = "bad_line_total"
    MISSING_QUANTITY = "missing_quantity"
    BAD_QUANTITY = "bad_quantity"


@dataclass
class LineColumns:
    """Parsed, valid lines as parallel arrays; duplicates still in (the panel drops them)."""

    ids: np.ndarray  # int64
    sale_ids: np.ndarray  # int64
    ts_ns: np.ndarray  # int64, UTC instant
    cents: np.ndarray  # int64, line_total in cents
    quantity: np.ndarray  # float64
    codes: dict[str, np.ndarray]  # field -> int32 codes into categories[field], -1 = null
    categories: dict[str, list[str]]
    present: dict[str, int]  # field -> how many fetched lines carried the key at all
    rows_fetched: int
    rejected: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def key_str(v: Any) -> str | None:
    """A group field's value as its key: strings stripped, integers in decimal, null for none."""
    t = type(v)
    if t is str:
        s = v.strip()
        return s or None
    if v is None:
        return None
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        if not math.isfinite(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)


def _quantity_page(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(quantity float64, codes: 0 ok, 1 missing, 2 bad) for one page."""
    n = len(values)
    types = set(map(type, values))
    if n and types <= {int, float}:
        try:
            q = np.array(values, dtype=np.float64)
        except OverflowError:
            q = None
        if q is not None:
            code = np.where(np.isfinite(q), 0, 2).astype(np.int8)
            return np.where(code == 0, q, 0.0), code
    out = np.zeros(n, dtype=np.float64)
    code = np.zeros(n, dtype=np.int8)
    for i, v in enumerate(values):
        t = type(v)
        if v is None or (t is str and not v.strip()):
            code[i] = 1
            continue
        if t is bool or t not in (int, float, str):
            code[i] = 2
            continue
        try:
            f = float(v)
        except (ValueError, OverflowError):
            code[i] = 2
            continue
        if math.isfinite(f):
            out[i] = f
        else:
            code[i] = 2
    return out, code


class LineBuilder(RowCounts):
    """Accumulates pages of sale lines into :class:`LineColumns` (a ``PageSink`` for the client)."""

    def __init__(self, group_fields: Sequence[str] = (), timezone: str = "UTC", *, max_series: int | None = None) -> None:
        super().__init__()
        self.group_fields = tuple(group_fields)
        # With max_series, the distinct bottom-level groups seen so far are counted page by page
        # (a set of packed codes, ~50 bytes a group), so a job that would be too large is refused
        # while it is fetched, not after every line is in memory.
        self.max_series = max_series
        self._groups: set[int] = set()
        self._times = ColumnBuilder(timezone)  # its vectorised created_at parser, nothing else
        self._arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("ids", "sale", "ts", "cents", "qty")}
        self._codes: dict[str, list[np.ndarray]] = {f: [] for f in self.group_fields}
        self._index: dict[str, dict[str, int]] = {f: {} for f in self.group_fields}
        self._present: dict[str, int] = {f: 0 for f in self.group_fields}

    def add_rows(self, rows: Sequence[Any]) -> None:
        """Parse one page of line objects; anything that is not a JSON object is counted and skipped."""
        objs = self._objects(rows, LineRejectReason.NOT_AN_OBJECT)
        fields = {f: [r.get(f) for r in objs] for f in self.group_fields}
        for f in self.group_fields:
            self._present[f] += sum(1 for r in objs if f in r)
        self.add_fields(
            [r.get("id") for r in objs],
            [r.get("sale_id") for r in objs],
            [r.get("created_at") for r in objs],
            [r.get("line_total") for r in objs],
            [r.get("quantity") for r in objs],
            fields,
            count_present=False,
        )

    def add_fields(
        self,
        ids: list[Any],
        sale_ids: list[Any],
        created_at: list[Any],
        line_total: list[Any],
        quantity: list[Any],
        group_values: dict[str, list[Any]],
        *,
        count_present: bool = True,
    ) -> None:
        """Parse one batch given as parallel lists (used by :meth:`add_rows` and CSV input)."""
        n = len(ids)
        if not all(len(x) == n for x in (sale_ids, created_at, line_total, quantity, *group_values.values())):
            raise ValueError("all columns of a batch must have the same length")
        self._rows_fetched += n
        if count_present:
            for f in self.group_fields:
                if f in group_values:
                    self._present[f] += n
        if n == 0:
            return
        id_arr, id_code = ids_page(ids)
        sale_arr, sale_code = ids_page(sale_ids)
        ts_arr, ts_code = self._times._timestamps_page(created_at)
        cents_arr, c_code = cents_page(line_total)
        qty_arr, q_code = _quantity_page(quantity)

        R = LineRejectReason
        ok = (id_code == 0) & (sale_code == 0) & (ts_code == 0) & (c_code == 0) & (q_code == 0)
        if not ok.all():
            self._reject_first_failures(ok, (
                (id_code, R.MISSING_ID, R.BAD_ID),
                (sale_code, R.MISSING_SALE_ID, R.BAD_SALE_ID),
                (ts_code, R.MISSING_CREATED_AT, R.BAD_CREATED_AT),
                (c_code, R.MISSING_LINE_TOTAL, R.BAD_LINE_TOTAL),
                (q_code, R.MISSING_QUANTITY, R.BAD_QUANTITY),
            ))
        keep = None if ok.all() else ok
        for name, arr in (("ids", id_arr), ("sale", sale_arr), ("ts", ts_arr), ("cents", cents_arr), ("qty", qty_arr)):
            self._arrays[name].append(arr if keep is None else arr[keep])
        page_codes = []
        for f in self.group_fields:
            values = group_values.get(f)
            codes = self._encode(f, values if values is not None else [None] * n)
            codes = codes if keep is None else codes[keep]
            self._codes[f].append(codes)
            page_codes.append(codes)
        if self.max_series is not None and page_codes:
            self._check_series(page_codes)

    def _check_series(self, page_codes: list[np.ndarray]) -> None:
        """TooManySeries once the bottom level alone has more groups than max_series allows
        (the total and every parent level come on top: the count is a lower bound)."""
        packed = np.zeros(page_codes[0].size, dtype=np.int64)
        for codes in page_codes:  # at most 3 fields of < 2**21 groups each: 63 bits
            packed = (packed << 21) | (codes.astype(np.int64) + 1)
        self._groups.update(np.unique(packed).tolist())
        assert self.max_series is not None
        if 1 + len(self._groups) > self.max_series:
            raise TooManySeries(
                f"group_by {list(self.group_fields)} gives more than {len(self._groups):,} groups at its last level "
                f"alone, more than MAX_SERIES ({self.max_series:,}) series in all: group by fewer or coarser "
                f"fields, or ask for a shorter window"
            )

    def _encode(self, f: str, values: list[Any]) -> np.ndarray:
        """Page values → global int32 codes: one pandas factorize, then a small remap."""
        keys = [v if type(v) is str and v and not v[0].isspace() and not v[-1].isspace() else key_str(v) for v in values]
        page_codes, uniques = pd.factorize(np.array(keys, dtype=object), use_na_sentinel=True)
        index = self._index[f]
        remap = np.empty(len(uniques) + 1, dtype=np.int32)
        remap[-1] = -1  # factorize's -1 (None) lands here
        for j, u in enumerate(uniques.tolist()):
            code = index.get(u)
            if code is None:
                code = index[u] = len(index)
            remap[j] = code
        return remap[page_codes]

    def finish(self) -> LineColumns:
        """The parsed lines as :class:`LineColumns` (global codes per group field, rejection counts);
        the parts are released, so call it once, after the last page."""
        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            # One column at a time, its pages released at once: the lines are held once and a
            # column, not twice (20 M lines are ~1 GB).
            whole = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
            parts.clear()
            # The pages were thousands of small arrays: the allocator keeps the memory they
            # leave unless asked to give it back (glibc; a no-op elsewhere).
            release_free_memory()
            return whole

        cols = LineColumns(
            ids=cat(self._arrays["ids"], np.int64),
            sale_ids=cat(self._arrays["sale"], np.int64),
            ts_ns=cat(self._arrays["ts"], np.int64),
            cents=cat(self._arrays["cents"], np.int64),
            quantity=cat(self._arrays["qty"], np.float64),
            codes={f: cat(self._codes[f], np.int32) for f in self.group_fields},
            categories={f: list(self._index[f]) for f in self.group_fields},
            present=dict(self._present),
            rows_fetched=self._rows_fetched,
            rejected=dict(self._rejected),
        )
        return cols


def lines_from_rows(
    rows: Iterable[Any], group_fields: Sequence[str] = (), timezone: str = "UTC", *, page_size: int = 10_000
) -> LineColumns:
    """Parse lines already in memory (tests, the demo), a page at a time."""
    builder = LineBuilder(group_fields, timezone)
    for page in pages(rows, page_size):
        builder.add_rows(page)
    return builder.finish()


LINE_CSV_COLUMNS = ("id", "sale_id", "created_at", "line_total", "quantity")


def read_lines_csv(
    path: str | PathLike[str], group_fields: Sequence[str], timezone: str = "UTC", *, chunksize: int = 100_000
) -> LineColumns:
    """Lines from a CSV with ``id,sale_id,created_at,line_total,quantity`` and the group columns.

    Every cell is read as text so decimal totals stay exact; an empty cell is missing (for a group
    field: the null group). A group column absent from the file is left for the panel to report.
    """
    builder = LineBuilder(group_fields, timezone)
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunksize, skipinitialspace=True)
        for chunk in reader:
            missing = [c for c in LINE_CSV_COLUMNS if c not in chunk.columns]
            if missing:
                raise InvalidRequest(
                    f"CSV {path}: missing column(s) {', '.join(missing)}; expected "
                    f"{','.join(LINE_CSV_COLUMNS)} plus the group_by fields",
                    field="csv",
                )
            groups = {f: chunk[f].tolist() for f in group_fields if f in chunk.columns}
            builder.add_fields(*(chunk[c].tolist() for c in LINE_CSV_COLUMNS), groups)
    except pd.errors.EmptyDataError as exc:
        raise InvalidRequest(f"CSV {path} is empty", field="csv") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidRequest(f"CSV {path} cannot be read: {exc}", field="csv") from exc
    return builder.finish()
