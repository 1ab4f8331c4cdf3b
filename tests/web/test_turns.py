"""web/turns.py: the connections' turns under gevent, and a plain call without it."""
from __future__ import annotations

import subprocess
import sys

from web.turns import TakeTurns


def test_without_gevent_the_middleware_is_a_plain_call():
    served = TakeTurns(lambda environ, start_response: [b"ok"])
    assert served._idle is None
    assert served({}, lambda *a: None) == [b"ok"]


def test_under_gevent_each_request_first_waits_for_the_loop_to_go_idle():
    # As gunicorn's gevent worker does: patch first, then load the app. Each request is served
    # after every other ready greenlet has had its turn.
    program = """
from gevent import monkey; monkey.patch_all()
import gevent
from web.turns import TakeTurns
order = []
app = TakeTurns(lambda environ, start_response: order.append(environ["n"]) or [b"ok"])
assert app._idle is not None
other = gevent.spawn(order.append, "other")  # ready before the request arrives
assert app({"n": "request"}, None) == [b"ok"]
other.join()
assert order == ["other", "request"], order
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
