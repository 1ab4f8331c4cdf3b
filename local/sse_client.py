"""A small Server-Sent Events client, for the tests and the benchmarks: it reads a stream as a
browser's EventSource does (``id:``, ``event:``, ``data:`` lines, a blank line ending each event,
``:`` comments) over a plain streaming HTTP connection, and sends ``Last-Event-ID`` to resume."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import requests


@dataclass
class Event:
    """One Server-Sent Event as the client received it: its ``event`` name, decoded JSON ``data``, ``id``, and
    when it arrived."""

    event: str
    data: Any  # the JSON data, decoded
    id: str | None = None
    received: float = field(default_factory=time.time)  # wall clock, to compare with other processes


class Stream:
    """One connection: iterate for its events; ``comments`` counts the comments seen."""

    def __init__(self, url: str, *, last_event_id: str | None = None, headers: dict[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        sent = {"Accept": "text/event-stream", **(headers or {})}
        if last_event_id:
            sent["Last-Event-ID"] = last_event_id
        self.response = requests.get(url, headers=sent, stream=True, timeout=(5, timeout))
        self.status_code = self.response.status_code
        self.comments = 0
        self.last_event_id = last_event_id

    def __iter__(self) -> Iterator[Event]:
        fields: dict[str, str] = {}
        data: list[str] = []
        for raw in self.response.iter_lines(chunk_size=1, decode_unicode=True):
            line = raw if isinstance(raw, str) else raw.decode()
            if line == "":
                if "event" in fields or data:
                    event = Event(fields.get("event", "message"), json.loads("\n".join(data)) if data else None,
                                  fields.get("id"))
                    if event.id:
                        self.last_event_id = event.id
                    yield event
                fields, data = {}, []
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name in ("id", "event", "retry"):
                fields[name] = value

    def close(self) -> None:
        """Close the connection: the server sees the client leave."""
        self.response.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
