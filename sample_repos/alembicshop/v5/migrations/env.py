"""The app's env, now one transaction per migration."""
from alembic import context

from shop import app
from shop.models import Base

config = context.config


def run_migrations_online():
    engine = app.extensions["sqlalchemy"].engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
