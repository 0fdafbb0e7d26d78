"""Trim bill descriptions, written for SQLAlchemy 1.3

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import select

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    conn.execute("UPDATE bills SET what = '' WHERE what IS NULL")
    metadata = sa.MetaData(bind=conn)
    bills = sa.Table("bills", metadata, autoload=True)
    for row in conn.execute(select([bills.c.id, bills.c.what])):
        conn.execute(bills.update().where(bills.c.id == row["id"]).values(what=row["what"].strip()))


def downgrade():
    pass
