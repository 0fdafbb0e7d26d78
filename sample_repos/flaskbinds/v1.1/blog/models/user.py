from datetime import datetime

from blog.config import DEFAULT_PLAN
from blog.enums import Role
from blog.extensions import db


class User(db.Model):  # table "user": Flask-SQLAlchemy names it
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)
    role = db.Column(
        db.Enum(Role, name="user_role", values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        server_default="reader",
    )
    plan = db.Column(db.String(20), nullable=False, server_default=db.text(f"'{DEFAULT_PLAN}'"))
    created_at = db.Column(db.DateTime, nullable=False, default=datetime.utcnow)
    last_login_at = db.Column(db.DateTime)
