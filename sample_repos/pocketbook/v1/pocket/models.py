import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Account(Base):
    __tablename__ = "accounts"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    password = sa.Column(sa.String(255))


class Bill(Base):
    __tablename__ = "bills"
    id = sa.Column(sa.Integer, primary_key=True)
    account_id = sa.Column(sa.Integer, sa.ForeignKey("accounts.id"), nullable=False)
    amount = sa.Column(sa.Float, nullable=False)
    what = sa.Column(sa.String(255))
    token = sa.Column(sa.Text)
