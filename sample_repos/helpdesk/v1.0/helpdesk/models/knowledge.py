from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AccountOwned, Base


class KbCategory(AccountOwned, Base):
    __tablename__ = "kb_categories"
    name: Mapped[str] = mapped_column(String(80))


class KbArticle(AccountOwned, Base):
    __tablename__ = "kb_articles"
    __table_args__ = (
        Index("ix_kb_articles_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
    )
    category_id: Mapped[int] = mapped_column(ForeignKey("kb_categories.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)


class KbRevision(AccountOwned, Base):
    __tablename__ = "kb_revisions"
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"))
    body: Mapped[str] = mapped_column(Text)


class KbVote(AccountOwned, Base):
    __tablename__ = "kb_votes"
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"))
    value: Mapped[int] = mapped_column(SmallInteger)
