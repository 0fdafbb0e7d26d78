"""Every model, for alembic's env.py: importing this registers all tables."""
from shop.db.base import Base  # noqa: F401
from shop.db.models.catalog.category import Category  # noqa: F401
from shop.db.models.catalog.product import Product  # noqa: F401
from shop.db.models.orders.line import OrderLine  # noqa: F401
from shop.db.models.orders.order import Order  # noqa: F401
