import datetime
import uuid

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Event(Base):
    """One audited action; kept in the `audit` schema, away from the application's tables."""

    __tablename__ = "events"
    __table_args__ = (Index("desc", "table"), {"schema": "audit"})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    grant_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("grant.id", name="events_grant_fkey"))
    level: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column("user", String(64), nullable=False)
    table: Mapped[str | None] = mapped_column("table", Text)
    trace: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, server_default=text("gen_random_uuid()"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))
