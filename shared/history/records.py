"""From a finished job to what the history keeps: a :class:`Publication`.

The worker puts a JSON item in the outbox when a job succeeds (:func:`outbox_item`); the drain
turns it back into a :class:`Publication` (:func:`publication_from_item`), which the repository
writes. A grouped job's publication carries one :class:`SeriesForecast` per series; a large grouped
job is written as several items (:func:`outbox_items`), each a publication of at most
``OUTBOX_PART_SERIES`` series, the total with the last, so neither the worker that builds them nor
the drain that writes them holds every series' history at once (a daily series of the M5's 1,941
days is ~33 KB of actuals).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping

from shared.contract.schema import Measure
from shared.history.models import TOTAL_KEY

ITEM_VERSION = 1  # an item with every series of its job, the total included
PART_VERSION = 2  # one part of a job written in several: "total" says whether the total is in it
OUTBOX_PART_SERIES = 500  # a grouped job's series per outbox item, at most
OUTBOX_PART_BYTES = 8 * 2**20  # and their JSON's size, at most (~250 daily series of 1,941 days)
DEFAULT_MEASURE = Measure.REVENUE.value  # a single-series job forecasts the sales' grand_total


def series_key(fields: Mapping[str, Any] | None) -> str:
    """The canonical key of a series: its group fields as compact JSON, keys sorted; "{}" for the total."""
    if not fields:
        return TOTAL_KEY
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class HorizonMonth:
    """One forecast month of a series: ``period`` (``YYYY-MM``), the point forecast and the interval's
    ``low``/``high`` bounds at the publication's confidence level."""

    period: str
    forecast: float
    low: float
    high: float


@dataclass(frozen=True)
class SeriesForecast:
    """One series of a publication: its forecast and the complete months the job saw."""

    key: str
    model: str
    horizon: tuple[HorizonMonth, ...]
    actuals: tuple[tuple[str, float], ...]  # (period, value) of complete months


@dataclass(frozen=True)
class Publication:
    """Everything one finished job published."""

    task_id: str
    created_at: datetime
    source: str
    status: str
    measure: str
    level: float
    fingerprint: str
    origin: str  # the last complete period the job trained on
    series: tuple[SeriesForecast, ...] = field(default_factory=tuple)
    frequency: str = "month"  # month, week or day: what every period label here is
    callback_url: str | None = None  # where the job's own webhooks go: its alerts too


def _horizon(forecast: Mapping[str, Any]) -> tuple[HorizonMonth, ...]:
    return tuple(
        HorizonMonth(str(p["period"]), float(p["forecast"]), float(p["low"]), float(p["high"]))
        for p in forecast["horizon"]
    )


def publication_from_document(
    task_id: str,
    document: Mapping[str, Any],
    *,
    status: str = "completed",
    measure: str = DEFAULT_MEASURE,
    extra_series: Iterable[SeriesForecast] = (),
) -> Publication:
    """The publication of a §5 result document: its total series, plus ``extra_series`` (a grouped
    job's series, which its document does not carry inline)."""
    data = document["data"]
    forecast = data["forecast"]
    meta = data["meta"]
    actual = data["actual_sales"]
    generated = meta.get("generated_at")
    created_at = datetime.fromisoformat(generated) if generated else datetime.now(timezone.utc)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    total = SeriesForecast(
        key=TOTAL_KEY,
        model=str(forecast["model"]),
        horizon=_horizon(forecast),
        actuals=tuple((str(a["period"]), float(a["total_sales"])) for a in actual),
    )
    return Publication(
        task_id=task_id,
        created_at=created_at,
        source=str(meta.get("source") or ""),
        status=status,
        measure=measure,
        level=float(forecast["confidence_level"]),
        fingerprint=str(meta.get("data_fingerprint") or ""),
        origin=str(actual[-1]["period"]) if actual else "",
        series=(total, *extra_series),
        frequency=str(forecast.get("frequency") or "month"),
    )


def outbox_items(
    task_id: str,
    document: Mapping[str, Any],
    *,
    status: str,
    measure: str = DEFAULT_MEASURE,
    series: Iterable[Mapping[str, Any]] = (),
    callback_url: str | None = None,
    part_series: int | None = OUTBOX_PART_SERIES,
    part_bytes: int = OUTBOX_PART_BYTES,
) -> Iterator[str]:
    """The outbox's JSON for a finished job, in order: its id, what it fetched, its result document,
    and a grouped job's series (docs/api.md §8's series shape; the total is the document's own).

    A job whose series (other than the total) exceed ``part_series`` or ``part_bytes`` of JSON gives
    several items, each a complete publication of at most that many; the earlier parts say
    ``"total": false`` and the total is written with the last. That order matters: a publication
    fills in the actuals of the periods the total's past forecasts still wait on
    (shared/history/writes.py), so the total's own actuals must come after every other series'.
    ``part_series`` None: one item.

    Items are built one at a time and each series is encoded as it is read (a daily series' history
    as Python lists is several times its JSON), so building them holds one part's text at a time."""
    head = {"v": ITEM_VERSION, "task_id": task_id, "status": status, "measure": measure, "document": document}
    # Level 0 is the total: its series is the document's own.
    encoded = (json.dumps(_series_record(s), separators=(",", ":")) for s in series if s.get("level"))
    if part_series is None:
        yield _item_text(head, encoded, callback_url)
        return
    following = next(encoded, None)
    while True:
        part: list[str] = []
        size = 0
        while following is not None and len(part) < part_series and (not part or size + len(following) <= part_bytes):
            part.append(following)
            size += len(following)
            following = next(encoded, None)
        if following is None:
            yield _item_text(head, part, callback_url)
            return
        yield _item_text({**head, "v": PART_VERSION, "total": False}, part, callback_url)


def outbox_item(task_id: str, document: Mapping[str, Any], **options: Any) -> str:
    """The outbox's JSON for a finished job as one item, every series in it: :func:`outbox_items`
    with no parts (``options``: its ``status``, ``measure``, ``series``, ``callback_url``)."""
    (item,) = outbox_items(task_id, document, part_series=None, **options)
    return item


def _series_record(s: Mapping[str, Any]) -> dict[str, Any]:
    """One series of an item: its key, model, horizon rows and actuals, as compact lists."""
    return {
        "key": series_key(s["key"]),
        "model": str(s["forecast"]["model"]),
        "horizon": [[p["period"], p["forecast"], p["low"], p["high"]] for p in s["forecast"]["horizon"]],
        "actuals": [[a["period"], a["value"]] for a in s.get("actual") or []],
    }


def _item_text(head: Mapping[str, Any], records: Iterable[str], callback_url: str | None) -> str:
    """One item's compact JSON from its series' (``records``, each already compact JSON): the same
    text one ``json.dumps`` of the whole would give."""
    out = io.StringIO()
    out.write(json.dumps(head, separators=(",", ":"))[:-1])
    opened = False
    for record in records:
        out.write("," if opened else ',"series":[')
        out.write(record)
        opened = True
    if opened:
        out.write("]")
    if callback_url:
        out.write(',"callback_url":' + json.dumps(callback_url))
    out.write("}")
    return out.getvalue()


def publication_from_item(raw: bytes | str) -> Publication:
    """Decode an outbox item; ValueError, KeyError or TypeError when it is not one."""
    item = json.loads(raw)
    if not isinstance(item, dict) or item.get("v") not in (ITEM_VERSION, PART_VERSION):
        raise ValueError("not a history outbox item")
    extra = tuple(
        SeriesForecast(
            key=str(s["key"]),
            model=str(s["model"]),
            horizon=tuple(HorizonMonth(str(p), float(f), float(lo), float(hi)) for p, f, lo, hi in s["horizon"]),
            actuals=tuple((str(p), float(v)) for p, v in s["actuals"]),
        )
        for s in item.get("series") or ()
    )
    publication = publication_from_document(
        str(item["task_id"]), item["document"], status=str(item["status"]), measure=str(item["measure"]),
        extra_series=extra,
    )
    if item["v"] == PART_VERSION and item.get("total") is False:  # a part before the last: no total
        publication = replace(publication, series=extra)
    callback_url = item.get("callback_url")
    return replace(publication, callback_url=callback_url) if isinstance(callback_url, str) else publication
