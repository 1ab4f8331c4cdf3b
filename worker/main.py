"""Entry point for `celery -A worker.main worker|beat|flower`."""
from shared.config import Settings
from worker.celery_app import create_celery

app = create_celery(Settings.from_env())
