from .invoices import invoice_lines, invoices, payments  # noqa: F401
