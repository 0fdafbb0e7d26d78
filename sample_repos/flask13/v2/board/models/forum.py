from board.models import db


class Topic(db.Model):
    __tablename__ = "topic"
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200, convert_unicode=True), nullable=False)
    hidden = db.Column(db.Boolean, nullable=False, default=False)
    posts = db.relationship("Post", backref="topic", lazy="dynamic", order_by="Post.id")


class Post(db.Model):
    __tablename__ = "post"
    id = db.Column(db.Integer, primary_key=True)
    topic_id = db.Column(db.Integer, db.ForeignKey("topic.id"), nullable=False, index=True)
    body = db.Column(db.Text, nullable=False)
    hidden = db.Column(db.Boolean, nullable=False, default=False)
    pinned = db.Column(db.Boolean, nullable=False, server_default="false")
