from .base import Base  # noqa: F401
from . import customers, notes, orders  # noqa: F401
