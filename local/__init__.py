"""Development aids: the bundled demo shop, a fault-injecting Laravel-like server, and sample data
that tests and benchmarks share. `make run`, the command line's ``--demo``, the tests and the
benchmarks use them; the Docker images leave this package out (it is not product code).
"""
