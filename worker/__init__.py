"""The worker tier: Celery tasks, thin adapters that run the engine on the queue's jobs."""
