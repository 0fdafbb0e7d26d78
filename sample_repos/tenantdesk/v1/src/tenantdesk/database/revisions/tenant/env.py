"""Runs the tenant chain in its schema(s); needs the app's settings, so modeldiff never runs it."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from tenantdesk.settings import DATABASE_URL

config = context.config
config.set_main_option("sqlalchemy.url", DATABASE_URL)
connectable = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
