import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.Index("users_name_key", "name", unique=True),)
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False)
    name = sa.Column(sa.String(100), nullable=True)
    status = sa.Column(sa.Enum("active", "banned", name="user_status"), nullable=True)
    phone = sa.Column(sa.String(32), nullable=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (sa.CheckConstraint("amount >= 0", name="orders_amount_nonnegative"),)
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", name="orders_user_id_fkey"), nullable=True)
    code = sa.Column(sa.String(20), nullable=True)
    amount = sa.Column(sa.BigInteger, nullable=True)
    note = sa.Column(sa.Text, nullable=True)
