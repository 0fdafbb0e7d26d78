"""Infrastructure, not a stage: the embedded PostgreSQL server the stages create their
scratch schemas in, its watchdog, and the temporary directories they use."""

import threading

# Set by the command line's signal handler: the run is stopping. A server start that fails
# then (a Ctrl-C reaches initdb too) is not retried with a rebuilt data directory.
STOPPING = threading.Event()


class DatabaseFailure(RuntimeError):
    """The embedded server failed, not the statement (out of memory, disk or locks, an I/O
    error, a lost connection): the ref's schema would be incomplete, so the run fails
    instead of comparing what happened to get created (one line). Here, not in server.py:
    the command line names it without importing the driver."""
