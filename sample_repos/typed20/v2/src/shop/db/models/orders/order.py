from __future__ import annotations

import datetime
import decimal

from sqlalchemy import Enum, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from shop.db.base import Base
from shop.db.mixins import TableNameMixin, TimestampMixin
from shop.domain.status import OrderStatus


class Order(TableNameMixin, TimestampMixin, Base):
    __table_args__ = (Index("ix_orders_customer_status", "customer_email", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    customer_email: Mapped[str]
    total: Mapped[decimal.Decimal]
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, name="order_status", values_callable=lambda e: [m.value for m in e]),
        default=OrderStatus.PENDING,
    )
    paid_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
