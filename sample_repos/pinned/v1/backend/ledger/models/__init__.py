"""Classical mapping: plain Table objects, mapped with sqlalchemy.orm.mapper (SQLAlchemy 1.x)."""
from sqlalchemy.orm import mapper

from ledger.models.tables import accounts, entries, metadata


class Account(object):
    pass


class Entry(object):
    pass


mapper(Account, accounts)
mapper(Entry, entries)

__all__ = ["Account", "Entry", "metadata"]
