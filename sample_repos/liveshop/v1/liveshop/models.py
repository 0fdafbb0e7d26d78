import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=True)
    name = sa.Column(sa.String(100), nullable=True)
    status = sa.Column(sa.Enum("active", "banned", "legacy", name="user_status"), nullable=True)


class Order(Base):
    __tablename__ = "orders"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, nullable=True)
    code = sa.Column(sa.String(50), nullable=True)
    amount = sa.Column(sa.Integer, nullable=True)
    note = sa.Column(sa.Text, nullable=True)
