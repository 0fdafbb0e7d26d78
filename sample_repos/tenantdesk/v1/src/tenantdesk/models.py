import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Queue(Base):
    __tablename__ = "queues"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)


class Ticket(Base):
    __tablename__ = "tickets"
    id = sa.Column(sa.Integer, primary_key=True)
    queue_id = sa.Column(sa.Integer, sa.ForeignKey("queues.id"))
    title = sa.Column(sa.String(255), nullable=False)
    is_draft = sa.Column(sa.Boolean)
