from .base import Base
from .audit import Event
from .grants import Grant

__all__ = ["Base", "Event", "Grant"]
