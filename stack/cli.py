"""`sales-forecast`: the forecast engine from the command line.

    sales-forecast forecast (--laravel URL | --csv FILE | --demo) [--horizon 3] [--level 90]
                            [--model auto] [--start-date YYYY-MM-DD] [--end-date YYYY-MM-DD]
                            [--group-by category,product_id] [--measure revenue|units|orders]
                            [--frequency month|week|day] [--holidays US-CA | --holidays none]
                            [--events FILE] [--format json|csv|inventory] [--laravel-deadline SECONDS]
                            [--lead-time N [--review-period N] [--service-level 95]] [--stock-csv FILE]

prints the result document (docs/api.md §5). `--demo` serves the bundled demo history through a
local Laravel-like server and the real client, the same path as Laravel data. With `--group-by`
(or a `--measure` other than revenue) it reads sale lines instead and forecasts every group
(docs/api.md §8): JSON is the total's document with `data.hierarchy` plus every series under
`series`; CSV is one line per series and horizon period. `--frequency` forecasts ISO weeks or days
instead of months (the horizon's default and limits follow it); `--holidays` names the country
(and subdivision) whose public holidays are known effects (default: $HOLIDAY_COUNTRY; `none`: off);
`--events` reads the shop's own events from a JSON file: a list of {"name", "start", "end"?}.
With `--lead-time`, every series carries its order-up-to level (docs/api.md §12); `--format
inventory` prints one line per product with the inventory columns, ready for a purchase-order
import. Stock comes from Laravel's stock endpoint (`--stock-path`, default $LARAVEL_STOCK_PATH or
/stock; `--demo` serves a demo stock), or from `--stock-csv` (product_id or sku, on_hand,
on_order, min_order, pack_size) with `--csv`.
Waiting on Laravel (every page, retry and back-off) ends after `--laravel-deadline` seconds
(default: $LARAVEL_DEADLINE_SECONDS, 60), as a worker's job does: exit 1 with `upstream_unavailable`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator, Sequence
from zoneinfo import ZoneInfo

from shared.contract.errors import ForecastError
from shared.contract.schema import ForecastRequest, Measure


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sales-forecast", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("forecast", help="fetch, aggregate, train and print the forecast")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--laravel", metavar="URL", help="the Laravel API's base URL")
    source.add_argument(
        "--csv", metavar="FILE", type=Path,
        help="a CSV with id,created_at,grand_total (grouped: id,sale_id,created_at,line_total,quantity + the group fields)",
    )
    source.add_argument("--demo", action="store_true", help="the bundled demo sales history")
    run.add_argument("--token", help="Bearer token for --laravel (default: $LARAVEL_API_TOKEN)")
    run.add_argument("--sales-path", default=None, help="default: $LARAVEL_SALES_PATH or /sales")
    run.add_argument("--timezone", default=None, help="business time zone (default: $SALES_TIMEZONE or UTC)")
    run.add_argument("--horizon", type=int, default=None, help="periods ahead (default: 3 months, 13 weeks, 28 days)")
    run.add_argument("--frequency", default=None, choices=["month", "week", "day"], help="default: month")
    run.add_argument(
        "--holidays", default=None,
        help="country[-subdivision] codes, comma-separated (US, US-CA, DE-BY); none: off (default: $HOLIDAY_COUNTRY)",
    )
    run.add_argument("--events", type=Path, default=None, help='a JSON file: [{"name", "start", "end"?}, ...]')
    run.add_argument("--level", type=float, default=90.0)
    run.add_argument("--model", default="auto")
    run.add_argument("--start-date", default=None)
    run.add_argument("--end-date", default=None)
    run.add_argument("--status", default="completed")
    run.add_argument("--today", default=None, help=argparse.SUPPRESS)  # reproducible runs in tests
    run.add_argument("--model-dir", type=Path, default=None, help="reuse fitted models (needs $SECRET_KEY)")
    run.add_argument("--group-by", default=None, help="sale-line fields, outermost first, e.g. category,product_id")
    run.add_argument("--measure", default=None, choices=[m.value for m in Measure])
    run.add_argument("--items-path", default=None, help="default: $LARAVEL_ITEMS_PATH or /sales/items")
    run.add_argument(
        "--format", default="json", choices=["json", "csv", "inventory"],
        help="csv: grouped forecasts only; inventory: one line per product (needs --lead-time)",
    )
    run.add_argument("--lead-time", type=int, default=None, help="periods from ordering to receiving (0-52)")
    run.add_argument("--review-period", type=int, default=None, help="periods between orders (1-52, default 1)")
    run.add_argument("--service-level", type=float, default=None, help="%% of cycles covered (50-99.9, default 95)")
    run.add_argument("--stock-path", default=None, help="default: $LARAVEL_STOCK_PATH or /stock")
    run.add_argument("--stock-csv", default=None, type=Path, help="stock rows as CSV, with --csv")
    run.add_argument(
        "--laravel-deadline", type=float, default=None, metavar="SECONDS",
        help="the most time spent waiting on Laravel, all pages, retries and back-offs "
        "(default: $LARAVEL_DEADLINE_SECONDS or 60)",
    )
    return parser


def _engine() -> SimpleNamespace:
    """The forecast engine, imported when a forecast is asked for (``--help`` stays quick). It needs
    the modelling stack, which the worker image has and the web image leaves out: there, a clear
    error instead of a traceback."""
    try:
        from shared.engine.grouped import (
            LaravelLineSource,
            StaticLineSource,
            inventory_csv,
            run_grouped_forecast,
            series_csv,
        )
        from shared.engine.model_store import ModelStore
        from shared.engine.pipeline import LaravelSource, StaticSource, run_forecast
        from shared.sources.lines import read_lines_csv
        from shared.sources.stock import stock_from_rows
        from shared.sources.transactions import read_csv
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"the forecast engine needs the modelling stack ({exc.name} is not installed): run sales-forecast "
            "in the worker image, or pip install 'sales-forecast[model]'"
        ) from None
    return SimpleNamespace(
        LaravelLineSource=LaravelLineSource, StaticLineSource=StaticLineSource, run_grouped_forecast=run_grouped_forecast,
        series_csv=series_csv, inventory_csv=inventory_csv, ModelStore=ModelStore, LaravelSource=LaravelSource, StaticSource=StaticSource,
        run_forecast=run_forecast, read_lines_csv=read_lines_csv, stock_from_rows=stock_from_rows, read_csv=read_csv,
    )


def _demo() -> SimpleNamespace:
    """The demo shop: a development aid (local/), which the images leave out."""
    try:
        from local.demo import demo_lines, demo_rows, demo_stock
        from local.fake_laravel import FakeLaravel
    except ModuleNotFoundError:
        raise ValueError(
            "--demo needs the development checkout (local/, left out of the images): use --laravel or --csv"
        ) from None
    return SimpleNamespace(demo_lines=demo_lines, demo_rows=demo_rows, demo_stock=demo_stock, FakeLaravel=FakeLaravel)


@contextlib.contextmanager
def _line_source(args: argparse.Namespace, settings, today: date, engine: SimpleNamespace) -> Iterator[object]:
    if args.csv:
        path = args.csv
        stock = _stock_csv(args.stock_csv, engine) if args.stock_csv else None
        yield engine.StaticLineSource(
            lambda fields: engine.read_lines_csv(path, fields, timezone=settings.sales_timezone), f"csv:{path.name}",
            stock,
        )
        return
    if args.demo:
        demo_shop = _demo()
        rows = demo_shop.demo_rows(today, timezone=settings.sales_timezone)
        items = demo_shop.demo_lines(today, timezone=settings.sales_timezone, rows=rows)
        with demo_shop.FakeLaravel(rows, items=items, stock=demo_shop.demo_stock(), paginator="length_aware",
                                   per_page=1000) as base_url:
            demo = settings.with_overrides(
                laravel_api_url=base_url, laravel_api_token=None, laravel_sales_path="/sales",
                laravel_items_path="/sales/items", laravel_stock_path="/stock",
            )
            source = engine.LaravelLineSource.from_settings(demo)
            source.name = "demo"
            yield source
        return
    yield engine.LaravelLineSource.from_settings(
        settings.with_overrides(
            laravel_api_url=args.laravel,
            laravel_api_token=args.token or settings.laravel_api_token,
            laravel_items_path=args.items_path or settings.laravel_items_path,
            laravel_stock_path=args.stock_path or settings.laravel_stock_path,
        )
    )


def _stock_csv(path: Path, engine: SimpleNamespace) -> object:
    """Stock rows from a CSV file, parsed (and counted) like Laravel's (docs/api.md §12)."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return engine.stock_from_rows(dict(row) for row in csv.DictReader(handle))


@contextlib.contextmanager
def _source(args: argparse.Namespace, settings, today: date, engine: SimpleNamespace) -> Iterator[object]:
    if args.csv:
        yield engine.StaticSource(engine.read_csv(args.csv, timezone=settings.sales_timezone), f"csv:{args.csv.name}")
        return
    if args.demo:
        demo_shop = _demo()
        rows = demo_shop.demo_rows(today, timezone=settings.sales_timezone)
        with demo_shop.FakeLaravel(rows, paginator="length_aware", per_page=1000) as base_url:
            demo = settings.with_overrides(laravel_api_url=base_url, laravel_api_token=None, laravel_sales_path="/sales")
            source = engine.LaravelSource.from_settings(demo)
            source.name = "demo"
            yield source
        return
    yield engine.LaravelSource.from_settings(
        settings.with_overrides(
            laravel_api_url=args.laravel,
            laravel_api_token=args.token or settings.laravel_api_token,
            laravel_sales_path=args.sales_path or settings.laravel_sales_path,
        )
    )


def _inventory_args(args: argparse.Namespace) -> dict[str, object] | None:
    """The request's inventory field from --lead-time, --review-period, --service-level."""
    given = {"lead_time": args.lead_time, "review_period": args.review_period, "service_level": args.service_level}
    if all(v is None for v in given.values()):
        return None
    return {k: v for k, v in given.items() if v is not None}
def _holidays(value: str | None) -> list[str] | None:
    if value is None:
        return None
    if value.strip().lower() in ("none", "off", ""):
        return []
    return [code.strip() for code in value.split(",") if code.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``sales-forecast forecast`` command: print the result document (or CSV) to stdout; on error,
    a JSON error object on stderr and exit status 2 for an invalid request or bad input, 1 for
    anything else the service names."""
    from shared.contract.config import Settings

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings.from_env()
    if args.timezone:
        settings = settings.with_overrides(sales_timezone=args.timezone)
    try:
        ZoneInfo(settings.sales_timezone)
        request = ForecastRequest.parse(
            {
                key: value
                for key, value in {
                    "start_date": args.start_date,
                    "end_date": args.end_date,
                    "horizon": args.horizon,
                    "level": args.level,
                    "model": args.model,
                    "status": args.status,
                    "group_by": [f.strip() for f in args.group_by.split(",")] if args.group_by is not None else None,
                    "measure": args.measure,
                    "inventory": _inventory_args(args),
                    "frequency": args.frequency,
                    "holidays": _holidays(args.holidays),
                    "events": json.loads(args.events.read_text()) if args.events else None,
                }.items()
                if value is not None
            }
        )
        today = date.fromisoformat(args.today) if args.today else datetime.now(ZoneInfo(settings.sales_timezone)).date()
        request = request.resolved(today, settings.holiday_country)  # where the request enters

        from shared.sources.deadline import Deadline

        engine = _engine()

        seconds = args.laravel_deadline if args.laravel_deadline is not None else settings.laravel_deadline_seconds
        if not seconds > 0:
            raise ValueError("--laravel-deadline must be a positive number of seconds")

        if request.grouped:
            with _line_source(args, settings, today, engine) as line_source:
                grouped = engine.run_grouped_forecast(
                    request, line_source, timezone=settings.sales_timezone, today=today,
                    deadline=Deadline.starting(seconds),
                )
            if args.format == "csv":
                sys.stdout.write(engine.series_csv(grouped.series, request.group_by or []))
                return 0
            if args.format == "inventory":
                if request.inventory is None:
                    raise ValueError("--format inventory needs --lead-time")
                sys.stdout.write(engine.inventory_csv(grouped.series, request.group_by or []))
                return 0
            document = {**grouped.document, "series": list(grouped.series)}
        else:
            if args.format in ("csv", "inventory"):
                raise ValueError(f"--format {args.format} needs --group-by (or a --measure other than revenue)")
            store = engine.ModelStore(args.model_dir, settings.secret_key) if args.model_dir and settings.secret_key else None
            with _source(args, settings, today, engine) as source:
                document = engine.run_forecast(
                    request, source, timezone=settings.sales_timezone, today=today, model_store=store,
                    deadline=Deadline.starting(seconds),
                )
    except ForecastError as exc:
        print(json.dumps({"status": "error", "error": exc.to_dict()}), file=sys.stderr)
        return 2 if exc.code == "invalid_request" else 1
    except (OSError, KeyError, ValueError) as exc:  # unreadable CSV, unknown time zone
        print(json.dumps({"status": "error", "error": {"code": "invalid_request", "message": str(exc)}}), file=sys.stderr)
        return 2
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
