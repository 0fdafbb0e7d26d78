from flask_sqlalchemy import BaseQuery, SQLAlchemy
from sqlalchemy_continuum import make_versioned
from sqlalchemy_searchable import vectorizer
from sqlalchemy_utils import EncryptedType
from wtforms.fields import DateField

from tracker import settings

make_versioned(user_cls=None)
db = SQLAlchemy()


class HideableQuery(BaseQuery):
    """A query class of the Flask-SQLAlchemy 2.x era (BaseQuery is gone in 3.1)."""

    def hidden(self):
        return self.filter_by(hidden=True)


class SecretValue(EncryptedType):
    """A column type derived from a library's type."""


class DueDateField(DateField):
    def __init__(self, label):
        DateField.__init__(self, label, None, "%Y-%m-%d")


DUE_FIELD = DueDateField("due")


@vectorizer(db.Integer)
def integer_vectorizer(column):
    return db.func.cast(column, db.Text)


class Project(db.Model):
    __versioned__ = {}
    query_class = HideableQuery
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(settings.TEXT_LIMIT), nullable=False)
    password = db.Column(SecretValue(db.Text, settings.SECRET_KEY))
    hidden = db.Column(db.Boolean, nullable=False, default=False)


class Bill(db.Model):
    __versioned__ = {}
    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("project.id"), nullable=False)
    amount = db.Column(db.Numeric(12, 2), nullable=False)
    currency = db.Column(db.String(3), nullable=False, server_default="EUR")
