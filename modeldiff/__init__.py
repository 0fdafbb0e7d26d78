"""modeldiff: what moving an application from one git ref to another does to its
PostgreSQL database. The library API is `modeldiff.api`; the command line `modeldiff.cli`."""

__version__ = "0.1.0"
