"""`celery -A tests.harness.clocked_worker worker ...`: worker.main, on the test's date."""
from tests.harness import install_clock

install_clock()

from worker.main import app  # noqa: E402,F401
