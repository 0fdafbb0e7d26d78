"""modeldiff's own connections to PostgreSQL: psycopg 3 (its maintainers' advice for a
library; psycopg2-binary is meant for applications). Parameters are bound on the client,
as psycopg2 did: modeldiff sends parameters in statements the server cannot bind
(`SET`, `CREATE ... DEFAULT`), and each statement reaches the log as it ran.

The application's own code (its models, its migrations) runs with the application's driver;
only these connections, and the SQLAlchemy engines modeldiff reflects with, use this one.
"""

from __future__ import annotations

import psycopg
from psycopg import errors  # noqa: F401 - re-exported: driver.errors.UniqueViolation ...

Error = psycopg.Error
OperationalError = psycopg.OperationalError
InterfaceError = psycopg.InterfaceError
SQLALCHEMY_SCHEME = "postgresql+psycopg"  # SQLAlchemy's dialect for psycopg 3


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, cursor_factory=psycopg.ClientCursor, **kwargs)


def message(exc: Exception) -> str:
    """The server's own one-line message of a failed statement."""
    diag = getattr(exc, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(exc)).strip()
    return text.splitlines()[0].removeprefix("ERROR:").strip() if text else ""
