from __future__ import annotations

import datetime
import decimal
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, MappedAsDataclass

from shop.settings import PRICE_SCALE

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(MappedAsDataclass, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        str: String(120),
        decimal.Decimal: Numeric(12, PRICE_SCALE),
        dict[str, Any]: JSON().with_variant(JSONB(), "postgresql"),
        datetime.datetime: DateTime(timezone=True),
    }
