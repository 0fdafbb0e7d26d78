from .invoices import invoice_lines, invoices  # noqa: F401
