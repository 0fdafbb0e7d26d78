from . import legacy, mapping  # noqa: F401
from .tables import accounts, metadata, sessions  # noqa: F401
