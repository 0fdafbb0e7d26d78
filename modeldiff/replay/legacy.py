"""SQLAlchemy 1.x calls in migration scripts, run as 1.x ran them.

Old revisions are never rewritten: scripts written for SQLAlchemy 1.x stay in the chain
(redash pins 1.3: `op.get_bind().execute("UPDATE ...")`, `sa.MetaData(bind=conn)`,
`sa.Table(name, metadata, autoload=True)`, `select([columns])`, `row["name"]`, `sa.Binary`; and older alembic's `down_revision = ""`).
SQLAlchemy 2.0, which the replay runs, refuses each of them; each gets here what 1.x did
with it, through 2.0's own equivalent. Only calls 2.0 would refuse are changed.
"""

from __future__ import annotations


def install() -> None:
    import sqlalchemy as sa
    import sqlalchemy.future
    import sqlalchemy.sql
    import sqlalchemy.sql.expression
    from sqlalchemy.engine import Connection, Row

    # Removed in 1.4: 1.3's `Binary` was LargeBinary under an older name.
    for module in (sa, sa.types):
        if not hasattr(module, "Binary"):
            module.Binary = sa.LargeBinary

    execute = Connection.execute

    def execute_string(self, statement, *args, **kwargs):
        """1.x sent a string to the driver as it is: 2.0's exec_driver_sql."""
        if not isinstance(statement, str):
            return execute(self, statement, *args, **kwargs)
        if kwargs:  # execute(sql, name=value)
            parameters = dict(kwargs)
        elif len(args) == 1:  # execute(sql, (a, b)) / execute(sql, {...}) / execute(sql, [{...}, ...])
            parameters = args[0]
        else:  # execute(sql, a, b) / execute(sql)
            parameters = tuple(args) or None
        return self.exec_driver_sql(statement, parameters)

    Connection.execute = execute_string

    metadata_init = sa.MetaData.__init__

    def metadata_with_bind(self, *args, bind=None, **kwargs):
        metadata_init(self, *args, **kwargs)
        self.modeldiff_bind = bind  # what `autoload=True` reflects from

    sa.MetaData.__init__ = metadata_with_bind

    table_new = sa.Table._new.__func__

    def table_autoload(cls, *args, autoload=None, **kwargs):
        if autoload and kwargs.get("autoload_with") is None and len(args) > 1:
            kwargs["autoload_with"] = getattr(args[1], "modeldiff_bind", None)
        return table_new(cls, *args, **kwargs)

    sa.Table._new = classmethod(table_autoload)

    select = sa.select

    def select_list(*entities, **kwargs):
        if len(entities) == 1 and isinstance(entities[0], (list, tuple)):  # select([a, b])
            entities = tuple(entities[0])
        return select(*entities, **kwargs)

    for module in (sa, sa.sql, sa.sql.expression, sa.future):
        module.select = select_list

    row_item = Row.__getitem__

    def row_by_name(self, key):
        if isinstance(key, str):  # 1.x rows were mappings too
            return self._mapping[key]
        return row_item(self, key)

    Row.__getitem__ = row_by_name

    # Older alembic read an empty `down_revision = ""` as no parent (dispatch's first
    # revisions); 1.x now looks "" up as a revision and fails on the whole map.
    from alembic.script.revision import Revision

    revision_init = Revision.__init__

    def revision_with_empty_base(self, revision, down_revision, *args, **kwargs):
        revision_init(self, revision, down_revision if down_revision != "" else None, *args, **kwargs)

    Revision.__init__ = revision_with_empty_base
