"""The stores tier: the service's own records in Redis.

Job records, idempotency and in-flight markers (``jobs``), a grouped job's plan, chunks and
published series (``grouped_store``), completion webhooks' delivery counts (``webhook_stats``).

May import: ``shared.contract``, the standard library and redis-py. Never numpy: the web reads it.
"""
