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

from .build import Plan, Step, make_plan
from .estimate import DEFAULT_THROUGHPUT, Throughput
from .hazards import CATALOGUE, Hazard
from .live import LiveDatabaseError
from .rules import PlanContext, annotate, parse_pg_version

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
