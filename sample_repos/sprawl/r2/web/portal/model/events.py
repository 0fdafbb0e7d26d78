from sqlalchemy import Column, DateTime, Integer, String
from sqlalchemy.orm import declarative_base

from portal.model import metadata

Base = declarative_base(metadata=metadata)


class Event(Base):
    __tablename__ = "event"
    id = Column(Integer, primary_key=True)
    kind = Column(String(64), nullable=False)
    at = Column(DateTime, nullable=False)
