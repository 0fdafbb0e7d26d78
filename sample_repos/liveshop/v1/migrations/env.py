"""The app's env: needs the app's engine, so modeldiff never runs it (one transaction for
the whole upgrade: alembic's default)."""
from alembic import context

from liveshop import engine
from liveshop.models import Base

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
