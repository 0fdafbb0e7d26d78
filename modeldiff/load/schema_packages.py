"""Libraries that add tables or columns to an application's schema when its models use
them: stubbed (not installed for the loader), they take those tables and columns with
them, so the loaded schema is incomplete. Kept as data: module -> what goes missing.
Libraries that only supply column *types* (sqlalchemy_utils, geoalchemy2, pgvector) are not
listed: a stubbed type is reported per column (`stub-type`); nor are those that only add
triggers or functions (sqlalchemy_searchable), which the comparison does not cover."""

from __future__ import annotations

SCHEMA_PACKAGES = {  # the module whose import brings them
    "sqlmodel": "every SQLModel table class (table=True)",
    "sqlalchemy_continuum": "the *_version tables and the transaction table of versioned models",
    "postgresql_audit": "the activity (audit) table",
    "sqlalchemy_history": "the *_history tables of versioned models",
    "fastapi_users_db_sqlalchemy": "the columns of the user and OAuth account base tables",
    "fastapi_users_db_sqlmodel": "the columns of the user and OAuth account base tables",
    "flask_appbuilder.security.sqla.models": "its security tables (ab_user, ab_role, ...)",
    "flask_security.models": "the columns of its fsqla model mixins",
    "casbin_sqlalchemy_adapter": "the casbin_rule table",
    "sqlalchemy_mptt": "the tree columns (lft, rgt, level, tree_id, parent_id) of tree models",
}


def stubbed_schema_packages(missing: set[str]) -> list[tuple[str, str]]:
    """(library, what goes missing) for each listed library among the stubbed modules."""
    return [(name, what) for name, what in sorted(SCHEMA_PACKAGES.items()) if name in missing]
