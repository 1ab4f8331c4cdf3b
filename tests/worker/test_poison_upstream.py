"""The poison guard copies two private kombu methods: an upgrade that changes them must be seen."""
from __future__ import annotations

import hashlib
import inspect
import textwrap

import pytest

kombu_redis = pytest.importorskip("kombu.transport.redis")


@pytest.mark.parametrize("name", ["_brpop_read", "_get"])
def test_copied_kombu_methods_are_unchanged_upstream(name):
    """kombu's methods that the guarded channel copies are still the ones the copies were made from."""
    from worker.poison import COPIED_UPSTREAM_SHA256, GuardedChannel

    upstream = textwrap.dedent(inspect.getsource(getattr(kombu_redis.Channel, name)))
    digest = hashlib.sha256(upstream.encode()).hexdigest()
    assert digest == COPIED_UPSTREAM_SHA256[name], (
        f"kombu's Channel.{name} changed upstream: review worker/poison/transport.py's copy of it "
        "(the guard must still run between the pop and json.loads), then update COPIED_UPSTREAM_SHA256"
    )
    # and the guarded channel really overrides it (else the guard would not run at all)
    assert getattr(GuardedChannel, name) is not getattr(kombu_redis.Channel, name)


def test_kombu_is_pinned_to_the_version_the_copies_came_from():
    """kombu is pinned to the version the copied methods came from."""
    from pathlib import Path

    import kombu

    pins = Path(__file__).resolve().parents[2].joinpath("pyproject.toml").read_text()
    assert f'"kombu=={kombu.__version__}"' in pins
