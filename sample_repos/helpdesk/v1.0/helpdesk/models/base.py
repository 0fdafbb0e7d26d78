from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column


class Base(DeclarativeBase):
    pass


class AccountOwned:
    """Rows that belong to an account: removed with it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @declared_attr
    def account_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
