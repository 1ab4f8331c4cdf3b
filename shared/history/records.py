"""From a finished job to what the history keeps: a :class:`Publication`.

The worker puts a small JSON item in the outbox when a job succeeds (:func:`outbox_item`); the
drain turns it back into a :class:`Publication` (:func:`publication_from_item`), which the
repository writes. A grouped job's publication carries one :class:`SeriesForecast` per series.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from shared.contract.schema import Measure
from shared.history.models import TOTAL_KEY

ITEM_VERSION = 1
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


def outbox_item(
    task_id: str,
    document: Mapping[str, Any],
    *,
    status: str,
    measure: str = DEFAULT_MEASURE,
    series: Iterable[Mapping[str, Any]] = (),
    callback_url: str | None = None,
) -> str:
    """The outbox's JSON for a finished job: its id, what it fetched, its result document, and a
    grouped job's series (docs/api.md §8's series shape; the total is the document's own).

    The series are read and encoded one at a time (a daily series' history as Python lists is
    several times its JSON), so building the item holds its text, not every series' lists."""
    head = {"v": ITEM_VERSION, "task_id": task_id, "status": status, "measure": measure, "document": document}
    out = io.StringIO()
    out.write(json.dumps(head, separators=(",", ":"))[:-1])
    opened = False
    for s in series:
        if not s.get("level"):  # level 0 is the total, already in the document
            continue
        record = {
            "key": series_key(s["key"]),
            "model": str(s["forecast"]["model"]),
            "horizon": [[p["period"], p["forecast"], p["low"], p["high"]] for p in s["forecast"]["horizon"]],
            "actuals": [[a["period"], a["value"]] for a in s.get("actual") or []],
        }
        out.write("," if opened else ',"series":[')
        out.write(json.dumps(record, separators=(",", ":")))
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
    if not isinstance(item, dict) or item.get("v") != ITEM_VERSION:
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
    callback_url = item.get("callback_url")
    return replace(publication, callback_url=callback_url) if isinstance(callback_url, str) else publication
