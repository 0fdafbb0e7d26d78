from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Grant(Base):
    """A permission granted to a user; `only` limits how many times it may be used."""

    __tablename__ = "grant"
    __table_args__ = (
        Index("distinct", "user", unique=True),  # one grant per user
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column("user", String(64), nullable=False)
    only: Mapped[int | None] = mapped_column("only", BigInteger)
    left: Mapped[str | None] = mapped_column("left", String(20))
    order: Mapped[int | None] = mapped_column("order", Integer, server_default=text("0"))
    path: Mapped[str | None] = mapped_column(Text, server_default="C:\\temp\\new")
    window: Mapped[str] = mapped_column("window", String(10), nullable=False, server_default="all")
    select: Mapped[int | None] = mapped_column("select", Integer)
