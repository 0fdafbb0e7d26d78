from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AccountOwned, Base


class SlaPolicy(AccountOwned, Base):
    __tablename__ = "sla_policies"
    name: Mapped[str] = mapped_column(String(80))
    minutes: Mapped[int] = mapped_column(Integer)


class SlaBreach(AccountOwned, Base):
    __tablename__ = "sla_breaches"
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"))


class Team(AccountOwned, Base):
    __tablename__ = "teams"
    name: Mapped[str] = mapped_column(String(80))


class TeamMember(AccountOwned, Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))


class Queue(AccountOwned, Base):
    __tablename__ = "queues"
    name: Mapped[str] = mapped_column(String(80))


class QueueRule(AccountOwned, Base):
    __tablename__ = "queue_rules"
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    expression: Mapped[str] = mapped_column(Text)


class Notification(AccountOwned, Base):
    __tablename__ = "notifications"
    message: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, server_default="false")


class NotificationPreference(AccountOwned, Base):
    __tablename__ = "notification_prefs"
    channel: Mapped[str] = mapped_column(String(20))


class ApiKey(AccountOwned, Base):
    __tablename__ = "api_keys"
    prefix: Mapped[str] = mapped_column(String(12), unique=True)


class Session(AccountOwned, Base):
    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(AccountOwned, Base):
    __tablename__ = "audit_entries"
    action: Mapped[str] = mapped_column(String(60))


class Webhook(AccountOwned, Base):
    __tablename__ = "webhooks"
    url: Mapped[str] = mapped_column(String(500))


class WebhookDelivery(AccountOwned, Base):
    __tablename__ = "webhook_deliveries"
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"))
    status: Mapped[int] = mapped_column(Integer)


class Export(AccountOwned, Base):
    __tablename__ = "exports"
    path: Mapped[str] = mapped_column(String(255))


class Import(AccountOwned, Base):
    __tablename__ = "imports"
    path: Mapped[str] = mapped_column(String(255))
