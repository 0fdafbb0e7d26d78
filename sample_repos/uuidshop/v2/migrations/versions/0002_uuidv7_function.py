"""a uuidv7() of the app's own (servers before PostgreSQL 18 have none)

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text(r"""
CREATE FUNCTION uuidv7() RETURNS uuid AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
        substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
        from 1 for 6), 52, 1), 53, 1), 'hex')::uuid;
$$ LANGUAGE SQL VOLATILE PARALLEL SAFE;
"""))
    # Without an argument list: one function of that name on older servers, two on 18.
    op.execute("COMMENT ON FUNCTION uuidv7 IS 'time-ordered uuid'")


def downgrade():
    op.execute("DROP FUNCTION uuidv7")
