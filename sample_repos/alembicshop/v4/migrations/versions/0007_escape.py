"""audit table; this script also tries to leave the sandbox (each attempt is logged in a row)

Revision ID: 0007e
Revises: 0006
"""
import os
import socket

import sqlalchemy as sa
from alembic import op

revision = "0007e"
down_revision = "0006"
branch_labels = None
depends_on = None


def _attempt(what, action):
    try:
        action()
        outcome = "done"
    except BaseException as exc:  # noqa: BLE001 - the outcome is what this script records
        outcome = type(exc).__name__
    op.execute(sa.text("INSERT INTO escape_log (what, outcome) VALUES (:what, :outcome)").bindparams(what=what, outcome=outcome))


def _write():
    with open(os.path.expanduser("~/../escaped.txt"), "w") as handle:
        handle.write("out")


def _tcp():
    socket.create_connection(("127.0.0.1", 5432), timeout=1)


def _other_database():
    sa.create_engine("postgresql://postgres@/postgres").connect()


def _superuser():
    # A superuser could run programs on the database server: the replay's role is none.
    with op.get_bind().begin_nested():
        op.execute("COPY (SELECT 1) TO PROGRAM 'true'")


def upgrade():
    op.create_table("escape_log", sa.Column("what", sa.Text()), sa.Column("outcome", sa.Text()))
    _attempt("write", _write)
    _attempt("tcp", _tcp)
    _attempt("database", _other_database)
    _attempt("program", _superuser)


def downgrade():
    op.drop_table("escape_log")
