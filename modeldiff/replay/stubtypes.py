"""Column types from packages that are not installed, in migration scripts.

A script that creates a column of a type library the replay's interpreter lacks
(`sqlalchemy_utils.types.uuid.UUIDType(binary=False)`) gets a stub, which SQLAlchemy
cannot compile. As the models loader does (load/ddl.py), such a column is created as TEXT
and reported, so the revision runs instead of failing on a type; the real type is only known
to the missing package (--runtime / --python can provide it).
"""

from __future__ import annotations


def install() -> dict[str, set[str]]:
    """Make every Column built with a stub type a TEXT column; returns the dict collecting
    stub name -> the names of those columns (a model's column has none yet: "?")."""
    import sqlalchemy as sa
    from sqlalchemy.types import TypeEngine

    from modeldiff.load.ddl import clean_stub_name
    from modeldiff.load.stubs import Stub

    replaced: dict[str, set[str]] = {}
    original = sa.Column.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if isinstance(self.type, Stub) or not isinstance(self.type, TypeEngine):
            stub = clean_stub_name(getattr(self.type, "_path", type(self.type).__name__))
            replaced.setdefault(stub, set()).add(self.name or "?")
            self.type = sa.Text()

    sa.Column.__init__ = __init__
    return replaced
