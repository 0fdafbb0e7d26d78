import os


class Config:
    SECRET_KEY = os.environ["BLOG_SECRET_KEY"]
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "postgresql://blog@localhost/blog")
    SQLALCHEMY_BINDS = {"audit": os.environ.get("AUDIT_DATABASE_URL", "postgresql://blog@localhost/audit")}


# The plan new users get; every deployment sets it.
DEFAULT_PLAN = os.environ["BLOG_DEFAULT_PLAN"]
TITLE_LENGTH = int(os.environ.get("BLOG_TITLE_LENGTH", "200"))
