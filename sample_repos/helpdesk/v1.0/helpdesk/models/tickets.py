from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AccountOwned, Base


class Ticket(AccountOwned, Base):
    __tablename__ = "tickets"
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="open")


class TicketComment(AccountOwned, Base):
    __tablename__ = "ticket_comments"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    body: Mapped[str] = mapped_column(Text)


class TicketAttachment(AccountOwned, Base):
    __tablename__ = "ticket_attachments"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    filename: Mapped[str] = mapped_column(String(255))


class TicketTag(AccountOwned, Base):
    __tablename__ = "ticket_tags"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    tag: Mapped[str] = mapped_column(String(40))


class TicketWatcher(AccountOwned, Base):
    __tablename__ = "ticket_watchers"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))


class TicketEvent(AccountOwned, Base):
    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_kind", "kind"),)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(30))


class SavedView(AccountOwned, Base):
    __tablename__ = "saved_views"
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)


class Macro(AccountOwned, Base):
    __tablename__ = "macros"
    title: Mapped[str] = mapped_column(String(80))
    actions: Mapped[str] = mapped_column(Text)
