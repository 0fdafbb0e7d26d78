"""Database access: the engine is created, and checked, at import time."""
from sqlalchemy import create_engine, text

engine = create_engine("postgresql+psycopg2://shop@localhost:5432/shop", pool_pre_ping=True)
with engine.connect() as connection:
    connection.execute(text("SELECT 1"))
