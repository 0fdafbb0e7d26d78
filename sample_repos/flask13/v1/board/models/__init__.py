from flask_sqlalchemy import BaseQuery, SQLAlchemy


class BoardQuery(BaseQuery):
    """Flask-SQLAlchemy 2.x's query class, subclassed: a stub module here fails."""

    def visible(self):
        return self.filter_by(hidden=False)


db = SQLAlchemy(query_class=BoardQuery)

from board.models.forum import Post, Topic  # noqa: E402,F401
