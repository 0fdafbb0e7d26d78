"""Stage 5, draft: an alembic revision from FROM to TO (migration, ops, casts), its online
form (online), its round trip on PostgreSQL (verify), and its place in the app's own
revision chain (chain)."""
