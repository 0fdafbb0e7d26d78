"""The schema's MetaData and the core tables, mapped classically."""
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.orm import registry

metadata = MetaData()
mapper_registry = registry(metadata=metadata)

user_table = Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(256), nullable=False, unique=True),
)


class User:
    pass


mapper_registry.map_imperatively(User, user_table)
from portal.model import events  # noqa: E402,F401
