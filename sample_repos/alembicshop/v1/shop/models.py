import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

from shop.types import StringUUID

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"
    id = sa.Column(StringUUID, primary_key=True, server_default=sa.text("gen_random_uuid()"))
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    name = sa.Column(sa.String(255))


class Order(Base):
    __tablename__ = "orders"
    id = sa.Column(sa.Integer, primary_key=True)
    customer_id = sa.Column(StringUUID, sa.ForeignKey("customers.id"), nullable=False)
    total = sa.Column(sa.Integer, nullable=False, server_default="0")
    status = sa.Column(sa.String(32))
