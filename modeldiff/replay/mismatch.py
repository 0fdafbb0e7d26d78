"""Why a script may fail: it was written for another SQLAlchemy or alembic than the replay's.

The replay runs the scripts with the interpreter's SQLAlchemy and alembic (modeldiff's own
unless --python names another). A ref that declares versions these do not satisfy (redash
pins SQLAlchemy 1.3: `MetaData(bind=...)`, `select([...])`, `row["name"]`) may fail where
its real upgrade would not: the failure says so, with what to pass.
"""

from __future__ import annotations

import sys

_LIBRARIES = ("sqlalchemy", "alembic")


def hint(snapshot, import_root: str, python: str | None) -> str | None:
    """"the app declares SQLAlchemy ==1.3.24; the replay ran ... 2.0.58" or None."""
    if python and python != sys.executable:
        return None  # another interpreter: its versions are not known here
    from importlib.metadata import PackageNotFoundError, version

    from ..load.requirements import RequirementsError, read_declared

    try:
        declared = read_declared(snapshot, import_root)
    except RequirementsError:
        return None
    found = []
    for name in _LIBRARIES:
        requirement = declared.requires.get(name)
        pinned = declared.pins.get(name)
        try:
            running = version(name)
        except PackageNotFoundError:
            continue
        wanted = f"=={pinned}" if pinned else (str(requirement.specifier) if requirement is not None else "")
        if not wanted:
            continue
        from packaging.specifiers import SpecifierSet

        if not SpecifierSet(wanted).contains(running, prereleases=True):
            found.append(f"{name} {wanted} (the replay ran {running})")
    if not found:
        return None
    return f"{snapshot.ref} declares {', '.join(found)}: its scripts may need that version (--python PATH: an interpreter with the app's packages)"
