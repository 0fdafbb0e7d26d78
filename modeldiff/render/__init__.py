"""Stage 5, render: results as text, JSON, Markdown, SQL and alembic revision files."""

# Dialects SQL can be rendered for (the comparison itself always runs on PostgreSQL).
SQL_DIALECTS = ("postgresql", "mysql", "sqlite")
