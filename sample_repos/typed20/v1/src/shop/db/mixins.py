from __future__ import annotations

import datetime
import re

from sqlalchemy import func
from sqlalchemy.orm import Mapped, MappedAsDataclass, declared_attr, mapped_column


class TableNameMixin:
    """`OrderLine` -> table `order_lines`, `Category` -> `categories`."""

    @declared_attr.directive
    def __tablename__(cls) -> str:
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        return name[:-1] + "ies" if name.endswith("y") else name + "s"


class TimestampMixin(MappedAsDataclass):
    created_at: Mapped[datetime.datetime] = mapped_column(init=False, server_default=func.now())

    @declared_attr
    def updated_at(cls) -> Mapped[datetime.datetime | None]:
        return mapped_column(init=False, default=None, onupdate=func.now())
