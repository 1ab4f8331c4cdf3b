"""The sources tier: reading a shop's sales and sale lines from its Laravel REST API.

The HTTP client with its paginators, retries and the job's deadline (``laravel_client``,
``deadline``), and the row parsers that turn pages into columns with data-quality counts
(``transactions`` for sales, ``lines`` for sale lines).

May import: ``shared.contract``, the standard library, requests, numpy and pandas.
"""
