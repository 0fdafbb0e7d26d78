from .base import Base  # noqa: F401
from .accounts import Account  # noqa: F401
from . import billing, knowledge, operations, tickets  # noqa: F401
