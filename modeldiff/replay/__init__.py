"""Stage: replay the application's own alembic migrations between two refs.

`setup` finds the app's alembic setup at a ref (read from git objects, never executed),
`run` replays FROM's migrations from base and then the chain to TO's heads on a scratch
database of the embedded PostgreSQL, each phase in a sandboxed child (`child`, run under the
loader's supervisor), and `render` writes the answer; `values` reads it into frozen values for the stages built on
it (the plan: `plan/replayed.py`).

This module stays empty: the child imports `modeldiff.replay.child` without the parent side.
"""
