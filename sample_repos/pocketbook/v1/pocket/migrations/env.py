"""Flask-Migrate's env.py: needs the Flask app, so modeldiff never runs it."""
from flask import current_app
from alembic import context

config = context.config
config.set_main_option("sqlalchemy.url", str(current_app.extensions["migrate"].db.engine.url))


def run_migrations_online():
    connectable = current_app.extensions["migrate"].db.engine
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=current_app.extensions["migrate"].db.metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
