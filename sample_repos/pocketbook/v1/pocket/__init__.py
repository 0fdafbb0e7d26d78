"""A small expense-sharing app: its alembic migrations live inside the package
(`pocket/migrations`, Flask-Migrate's layout) and import the package itself."""
