from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db.base import Base
from shop.db.mixins import TableNameMixin

if TYPE_CHECKING:
    from .product import Product


class Category(TableNameMixin, Base):
    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    name: Mapped[str] = mapped_column(unique=True)
    products: Mapped[list[Product]] = relationship(init=False, back_populates="category")
