"""The app's env (never run by modeldiff): one transaction for the whole upgrade."""
from alembic import context

from tickets.models import Base
from tickets.db import engine

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
