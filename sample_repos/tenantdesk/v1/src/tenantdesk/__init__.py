"""A multi-tenant helpdesk: shared tables in schema `desk_core`, per-tenant tables migrated by a
second alembic chain. A new install creates the tables from the models and stamps the heads:
the oldest revisions expect tables to exist."""
