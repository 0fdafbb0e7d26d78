from __future__ import annotations

import decimal
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...base import Base
from ...mixins import TableNameMixin, TimestampMixin

if TYPE_CHECKING:  # never true at run time: the import would be circular
    from ..orders.order import Order  # noqa: F401
    from .category import Category


class Product(TableNameMixin, TimestampMixin, Base):
    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    sku: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    price: Mapped[decimal.Decimal]
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[Optional[str]] = mapped_column(Text, default=None)
    weight_grams: Mapped[Optional[int]] = mapped_column(default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(default_factory=dict)
    category: Mapped[Category] = relationship(init=False, back_populates="products")
