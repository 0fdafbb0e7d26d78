"""Older declarative models, written for SQLAlchemy 1.3/1.4."""
from sqlalchemy import Column, ForeignKey, Integer, String, Text
from sqlalchemy.ext.declarative import declarative_base

from .tables import metadata

Base = declarative_base(metadata=metadata)


class Preference(Base):
    __tablename__ = "preferences"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    key = Column(String(200), nullable=False)
    value = Column(Text)
