import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Ticket(Base):
    __tablename__ = "tickets"
    id = sa.Column(sa.Uuid, primary_key=True, server_default=sa.text("gen_random_uuid()"))
    title = sa.Column(sa.String(200), nullable=False)


class TicketEvent(Base):
    __tablename__ = "ticket_events"
    id = sa.Column(sa.Uuid, primary_key=True, server_default=sa.text("uuidv7()"))
    ticket_id = sa.Column(sa.Uuid, sa.ForeignKey("tickets.id"), nullable=False)
