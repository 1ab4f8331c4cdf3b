"""`gunicorn 'tests.harness.clocked_web:create_app()'`: web.app's factory, on the test's date."""
from tests.harness import install_clock

install_clock()

from web.app import create_app  # noqa: E402,F401
