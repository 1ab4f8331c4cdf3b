"""A grouped job's series documents (docs/api.md §8) held as compressed JSON until read.

A series document as Python dicts costs about twelve times its JSON (a daily series' ``actual`` is
one dict, one period string and one float a day): at 730 days, ~330 KB a series against ~27 KB of
JSON, and the fan-in held every series of the job at once, twice while it validated them. Kept
here as its compact JSON, deflated, a series costs a few KB until someone reads it; reading one
decodes that one only, so the fan-in's memory grows with the series count by its compressed JSON
(docs/scaling.md §2). The JSON is the bytes the store publishes (:meth:`SeriesDocuments.json`),
so publishing does not encode a series twice.
"""
from __future__ import annotations

import json
import zlib
from typing import Any, Iterator, Sequence, overload

# zlib's fastest level: a daily series' JSON deflates ~5x at it, and the fan-in pays it once a series.
COMPRESS_LEVEL = 1


def encode(document: dict[str, Any]) -> str:
    """A series document's published JSON: compact separators, keys in the document's order."""
    return json.dumps(document, separators=(",", ":"))


class SeriesDocuments(Sequence[dict[str, Any]]):
    """Every series document of a grouped job, in order; each kept as deflated compact JSON.

    Indexing, slicing and iterating decode (a new dict each time: changing one changes nothing
    kept); :meth:`json` gives a series' JSON text without building its dicts."""

    def __init__(self, documents: Sequence[dict[str, Any]] = ()) -> None:
        self._blobs: list[bytes] = []
        for document in documents:
            self.append(document)

    def append(self, document: dict[str, Any]) -> None:
        """Keep ``document`` (JSON-safe: what ``model_dump(mode="json")`` gives) at the end."""
        self._blobs.append(zlib.compress(encode(document).encode(), COMPRESS_LEVEL))

    def json(self, i: int) -> str:
        """Series ``i``'s document as its compact JSON text."""
        return zlib.decompress(self._blobs[i]).decode()

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [json.loads(self.json(k)) for k in range(*i.indices(len(self)))]
        return json.loads(self.json(i))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for k in range(len(self)):
            yield json.loads(self.json(k))

    def nbytes(self) -> int:
        """The bytes the kept (deflated) documents take."""
        return sum(len(b) for b in self._blobs)
