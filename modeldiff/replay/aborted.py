"""The error that aborted a transaction, when a script caught it and went on.

A script that wraps its operations in `try: ... except ProgrammingError:` and swallows
the error (redash's first revision expects tables that its `create_all` made) leaves
PostgreSQL's transaction aborted; the next statement (often alembic's own version update)
fails with "current transaction is aborted", which names neither the cause nor the script.
The last error before it is the cause: its message, SQL and file:line are reported instead.
"""

from __future__ import annotations

import sys

ABORTED = "25P02"  # in_failed_sql_transaction


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)


def is_aborted(exc: BaseException) -> bool:
    """An error (SQLAlchemy's or the driver's) saying the transaction was already aborted."""
    return _sqlstate(getattr(exc, "orig", None) or exc) == ABORTED


class Cause:
    """handle_error listener: remembers the last statement error that was not itself an
    'aborted' one, with the innermost version-script frame that sent it."""

    def __init__(self, script_files: dict[str, str]) -> None:
        self.script_files = script_files  # absolute path -> repo path
        self.last: dict | None = None

    def __call__(self, context) -> None:
        exc = context.original_exception
        if _sqlstate(exc) == ABORTED:
            return
        frame, location = sys._getframe(1), ""
        while frame is not None and not location:
            path = self.script_files.get(frame.f_code.co_filename)
            location = f"{path}:{frame.f_lineno}" if path else ""
            frame = frame.f_back
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.last = {"message": message, "location": location, "sql": (context.statement or "").strip()[:500]}

    def explain(self, error: dict, exc: BaseException) -> dict:
        """`error` (the upgrade's failure) with the cause in front when `exc` only says the
        transaction was aborted."""
        if self.last is None or not is_aborted(exc):
            return error
        cause = self.last
        message = f"{cause['message']} (caught by the migration code, which went on; the transaction stayed aborted: {error['message']})"
        return {**error, "message": message, "location": cause["location"] or error["location"], "cause": cause}
