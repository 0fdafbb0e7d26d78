from blog.extensions import db


class AuditEvent(db.Model):
    __bind_key__ = "audit"  # lives in the audit database: its own MetaData

    id = db.Column(db.BigInteger, primary_key=True)
    actor_id = db.Column(db.Integer, nullable=False)  # no FK: another database
    action = db.Column(db.String(50), nullable=False)
    at = db.Column(db.DateTime, nullable=False, server_default=db.func.now())
