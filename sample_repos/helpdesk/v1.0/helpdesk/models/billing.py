from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import AccountOwned, Base


class Invoice(AccountOwned, Base):
    __tablename__ = "invoices"
    number: Mapped[str] = mapped_column(String(32), unique=True)
    total: Mapped[float] = mapped_column(Numeric(12, 2))


class InvoiceLine(AccountOwned, Base):
    __tablename__ = "invoice_lines"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))


class PaymentMethod(AccountOwned, Base):
    __tablename__ = "payment_methods"
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
