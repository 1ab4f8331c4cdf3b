"""The service's processes and how they start: their commands, the local runner (`make run`), the command line."""
