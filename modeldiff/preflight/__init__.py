"""Stage: pre-flight against the live database (`modeldiff plan ... --database-url`).

`deployed` reads the revision the database runs and maps it to a ref; `copy` copies the live
schema (schema only, read-only) into the embedded PostgreSQL; `run` replays FROM's
migrations for the expected schema (drift) and TO's chain on the copy (what the upgrade runs,
and where it fails); `checks` runs the read-only data pre-checks; `timeline` costs each
statement on the live sizes with its locks; `render` writes the answer.
"""
