"""Fitted models on disk, signed, so unchanged data is not retrained.

joblib files are pickles, and loading a pickle runs code. Every file is therefore written with an
HMAC-SHA256 signature keyed by SECRET_KEY, and a file whose signature does not match (tampered
with, written under another key, truncated) is refused before a byte of it is unpickled.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import joblib

from shared.contract.errors import ModelFileRejected

log = logging.getLogger(__name__)

_SIGNATURE_BYTES = 32  # HMAC-SHA256 digest, stored in front of the joblib payload


class ModelStore:
    """Signed joblib files under ``root/<model_version>/<key>.joblib``."""

    def __init__(self, root: Path | str, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("ModelStore needs a SECRET_KEY to sign model files")
        self.root = Path(root)
        self._key = hashlib.sha256(b"model-files:" + secret_key.encode()).digest()

    def path_for(self, key: str, model_version: str) -> Path:
        """Where a model is kept: ``root/<model_version>/<key>.joblib``, the version reduced to
        ``[A-Za-z0-9._-]`` so it cannot leave ``root``; ``key`` is used as given (callers pass a hex
        digest)."""
        safe_version = "".join(c if c.isalnum() or c in ".-_" else "_" for c in model_version)
        return self.root / safe_version / f"{key}.joblib"

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def save(self, key: str, model_version: str, obj: Any) -> Path:
        """Write ``obj`` signed (HMAC first, then the joblib payload) and atomically (temporary file,
        then rename), replacing any earlier file; returns its path."""
        buffer = io.BytesIO()
        joblib.dump(obj, buffer, compress=3)
        payload = buffer.getvalue()
        path = self.path_for(key, model_version)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a concurrent reader sees the old file or the whole new one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._sign(payload) + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def load_verified(self, key: str, model_version: str) -> Any | None:
        """The stored object, ``None`` when absent; :class:`ModelFileRejected` on a bad signature."""
        path = self.path_for(key, model_version)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        signature, payload = blob[:_SIGNATURE_BYTES], blob[_SIGNATURE_BYTES:]
        if len(signature) < _SIGNATURE_BYTES or not hmac.compare_digest(signature, self._sign(payload)):
            raise ModelFileRejected(f"signature mismatch for {path}")
        return joblib.load(io.BytesIO(payload))

    def load(self, key: str, model_version: str) -> Any | None:
        """Like :meth:`load_verified`, but a rejected file is logged and treated as absent (re-fit)."""
        try:
            return self.load_verified(key, model_version)
        except ModelFileRejected as exc:
            log.warning("refusing stored model: %s; it will be re-fitted", exc)
            return None
        except Exception as exc:  # a signed but unreadable file (e.g. library upgrade): re-fit
            log.warning("stored model %s could not be loaded (%s); re-fitting", key, exc)
            return None
