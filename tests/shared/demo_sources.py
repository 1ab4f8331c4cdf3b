"""The demo shop as in-process sources for the engine's tests: its sales and its sale lines, on a
chosen date and in a chosen timezone (no Laravel, no Redis)."""
from __future__ import annotations

from datetime import date

from local.demo import demo_columns, demo_lines, demo_rows
from shared.engine.grouped import StaticLineSource
from shared.engine.pipeline import StaticSource
from shared.sources.lines import LineBuilder


def demo_sales(today: date, timezone: str) -> StaticSource:
    """The demo shop's sales up to ``today``."""
    return StaticSource(demo_columns(today, timezone=timezone), "demo")


def demo_line_source(today: date, timezone: str) -> StaticLineSource:
    """The demo shop's sale lines up to ``today``, grouped by whatever fields a job asks for."""
    items = demo_lines(today, timezone=timezone, rows=demo_rows(today, timezone=timezone))

    def read(fields):
        builder = LineBuilder(fields, timezone)
        builder.add_rows(items)
        return builder.finish()

    return StaticLineSource(read, "demo")
