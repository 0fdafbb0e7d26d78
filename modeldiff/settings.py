"""Every MODELDIFF_* environment variable, read here and nowhere else.

Read when asked, not at import: a test (or a long-lived library user) may change them
between runs.

* MODELDIFF_CACHE_DIR: the cache directory (default: the platform's user cache directory
  by platformdirs: $XDG_CACHE_HOME/modeldiff or ~/.cache/modeldiff on Linux,
  ~/Library/Caches/modeldiff on macOS);
* MODELDIFF_PG_IDLE: seconds the embedded PostgreSQL and the loader's fork server outlive
  the last run that used them (default 300; 0 stops them with each run);
* MODELDIFF_FORK_SERVER: 0 turns the loader's fork server off;
* MODELDIFF_SECCOMP: 0 turns the loader's seccomp filter off (debugging; each load warns);
* MODELDIFF_DEBUG: print the traceback of an internal error;
* MODELDIFF_DATABASE_URL: `plan --database-url`'s default (see `option_defaults`);
* MODELDIFF_LOAD_TOKEN: set by modeldiff on the processes of one load (not a user setting);
* MODELDIFF_RUNTIME: `--runtime`'s default (see `option_defaults`); `bundled` is how an
  offline user keeps every ref on modeldiff's own runtime;
* MODELDIFF_OFFLINE: `--runtime auto` never asks uv to download an interpreter;
* MODELDIFF_KILL_AT: fault tests only: the run SIGKILLs itself as the named stage ends
  (`create`, `reflect`, `compare` spans, or `write`: an output file half written).
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_VAR = "MODELDIFF_DATABASE_URL"
LOAD_TOKEN_VAR = "MODELDIFF_LOAD_TOKEN"
RUNTIME_MODES = ("auto", "bundled")  # MODELDIFF_RUNTIME's values (--runtime)


# Variables that give a command-line option its default: variable -> option (parameter name).
OPTION_VARS = {"MODELDIFF_RUNTIME": "runtime", DATABASE_URL_VAR: "database_url"}


def option_defaults() -> dict[str, str]:
    """Option defaults from the environment, by parameter name, for click's default_map
    (a flag given on the command line still wins)."""
    return {option: os.environ[var] for var, option in OPTION_VARS.items() if os.environ.get(var)}


def cache_dir() -> Path:
    explicit = os.environ.get("MODELDIFF_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("modeldiff")


def keep_alive_seconds() -> float:
    return float(os.environ.get("MODELDIFF_PG_IDLE", "300"))


def kill_at() -> str | None:
    return os.environ.get("MODELDIFF_KILL_AT") or None


def fork_server_enabled() -> bool:
    return os.environ.get("MODELDIFF_FORK_SERVER") != "0"


def offline() -> bool:
    return bool(os.environ.get("MODELDIFF_OFFLINE"))


def seccomp_enabled() -> bool:
    return os.environ.get("MODELDIFF_SECCOMP") != "0"


def debug() -> bool:
    return bool(os.environ.get("MODELDIFF_DEBUG"))
