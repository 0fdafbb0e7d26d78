"""Interactive prompts in migration scripts, answered with synthetic values.

Some initial migrations ask the operator for the first account (pgAdmin's asks for an e-mail
and a password with input()/getpass, unless environment variables hold them). The replay has
no operator, and the answer only fills a row of a scratch database, never its schema: each
prompt gets a synthetic value that passes the usual validations (an e-mail address that is
also plain text; one long password for every getpass, so "retype" matches) and the answer
reports it with the file:line that asked. A script that keeps asking (rejects the value)
gets EOFError after a few tries, as with no terminal, so the replay ends with that error.
"""

from __future__ import annotations

import builtins
import getpass
import sys

TEXT = "replay@example.com"  # valid as an e-mail, a user name or free text
PASSWORD = "modeldiff-replay-Passw0rd!"  # long, with every character class
MAX_ASKS = 10  # per call site: beyond it, the script rejects the synthetic value


def install(where) -> list[dict]:
    """Replace input() and getpass.getpass(); `where(frame)` names the asking site. Returns
    the list that collects {"prompt", "answer", "location", "asked"} per call site."""
    asked: list[dict] = []

    def answer(kind: str, prompt, value: str) -> str:
        location = where(sys._getframe(2))
        entry = next((a for a in asked if a["location"] == location and a["kind"] == kind), None)
        if entry is None:
            entry = {"kind": kind, "prompt": str(prompt).strip()[:120], "answer": value if kind == "input" else "(synthetic password)", "location": location, "asked": 0}
            asked.append(entry)
        entry["asked"] += 1
        if entry["asked"] > MAX_ASKS:
            raise EOFError(f"prompt {entry['prompt']!r} asked {MAX_ASKS} times: the synthetic answer was rejected")
        return value

    builtins.input = lambda prompt="": answer("input", prompt, TEXT)
    getpass.getpass = lambda prompt="Password: ", stream=None: answer("getpass", prompt, PASSWORD)
    return asked
