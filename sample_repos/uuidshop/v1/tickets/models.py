import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Ticket(Base):
    __tablename__ = "tickets"
    id = sa.Column(sa.Uuid, primary_key=True, server_default=sa.text("gen_random_uuid()"))
    title = sa.Column(sa.String(200), nullable=False)
