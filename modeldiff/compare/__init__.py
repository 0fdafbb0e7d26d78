"""Stage 3, compare: two loaded schemas created in PostgreSQL (materialize), reflected in
its normal form (schemas) and turned into changes, with the catalog facts the plan
stage needs about each (facts)."""
