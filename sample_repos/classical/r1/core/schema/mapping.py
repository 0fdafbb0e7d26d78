"""Plain classes mapped onto the tables, the classical (imperative) way."""
from sqlalchemy.orm import registry, relationship

from .tables import accounts, metadata, sessions

mapper_registry = registry(metadata=metadata)


class Account:
    pass


class Session:
    pass


mapper_registry.map_imperatively(Account, accounts, properties={"sessions": relationship(Session)})
mapper_registry.map_imperatively(Session, sessions)
