"""The contract tier: what the service promises, as plain data.

Settings (``config``), named errors and their codes (``errors``), the request, result and status
documents (``schema``, ``status``), the wire protocol Celery and Laravel agree on (``protocol``),
webhook signing (``webhooks``), log redaction (``logs``) and the one clock (``clock``).

May import: the standard library and pydantic. Nothing else of the project.
"""
