import uuid

from sqlalchemy import Index, Integer, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Event(Base):
    """One audited action; kept in the `audit` schema, away from the application's tables."""

    __tablename__ = "events"
    __table_args__ = (Index("limit", "user"), {"schema": "audit"})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    grant_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(SmallInteger)
    user: Mapped[str | None] = mapped_column("user", String(64))
    table: Mapped[str | None] = mapped_column("table", Text)
