from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Grant(Base):
    """A permission granted to a user; `only` limits how many times it may be used."""

    __tablename__ = "grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str | None] = mapped_column("user", String(64))
    only: Mapped[int | None] = mapped_column("only", Integer)
    left: Mapped[str | None] = mapped_column("left", String(40))
    order: Mapped[int | None] = mapped_column("order", Integer)
    path: Mapped[str | None] = mapped_column(Text)
