"""Entry point for `celery -A worker.main worker|beat|flower`."""
from shared.contract.config import Settings
from worker.celery_app import create_celery

app = create_celery(Settings.from_env())
