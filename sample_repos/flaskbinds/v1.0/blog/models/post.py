from blog.config import TITLE_LENGTH
from blog.extensions import db

post_tags = db.Table(
    "post_tags",
    db.Column("post_id", db.ForeignKey("blog_post.id", ondelete="CASCADE"), primary_key=True),
    db.Column("tag_id", db.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class BlogPost(db.Model):  # table "blog_post"
    id = db.Column(db.Integer, primary_key=True)
    author_id = db.Column(db.ForeignKey("user.id"), nullable=False, index=True)
    title = db.Column(db.String(TITLE_LENGTH), nullable=False)
    body = db.Column(db.Text)
    tags = db.relationship("Tag", secondary=post_tags, backref="posts")


class Tag(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False, unique=True)
