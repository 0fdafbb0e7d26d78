"""permits: who may do what, and the audit trail of it."""
