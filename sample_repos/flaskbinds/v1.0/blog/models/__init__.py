from .audit import AuditEvent
from .post import BlogPost, Tag, post_tags
from .user import User

__all__ = ["AuditEvent", "BlogPost", "Tag", "User", "post_tags"]
