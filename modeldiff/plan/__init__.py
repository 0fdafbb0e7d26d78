"""Stage 5, plan: what each change will do to a live database, and what it will cost.

* `rules.annotate` gives every change its hazards (catalogue in `hazards.py`: everything
  about each code, from which ordering, colours and docs are derived; safe recipes as data
  in `recipes.py`), from the changes and the facts the compare stage collected
  (`facts.py`), for a PostgreSQL version;
* `live.read_live_facts` reads sizes and settings from the user's database (read-only);
* `estimate` turns sizes into durations with a documented throughput model, which
  `calibrate` can measure on the user's server;
* `build.make_plan` puts it together, sorted by cost, summary first.
"""

from importlib import import_module

# Each name from its module when first asked for: `annotate` (every diff) needs neither the
# live database reader nor the estimates, nor the SQLAlchemy they import.
_HOMES = {
    "Plan": "build", "Step": "build", "make_plan": "build",
    "DEFAULT_THROUGHPUT": "estimate", "Throughput": "estimate",
    "CATALOGUE": "hazards", "Hazard": "hazards",
    "LiveDatabaseError": "live",
    "PlanContext": "rules", "annotate": "rules", "parse_pg_version": "rules",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)


__all__ = [
    "CATALOGUE",
    "DEFAULT_THROUGHPUT",
    "Hazard",
    "LiveDatabaseError",
    "Plan",
    "PlanContext",
    "Step",
    "Throughput",
    "annotate",
    "make_plan",
    "parse_pg_version",
]
