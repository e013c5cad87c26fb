"""The JSON file ($GH_STANDIN) in which the stand-ins `gh` and `npx` beside it keep what GitHub would."""

import json
import os
from pathlib import Path

STATE = Path(os.environ.get("GH_STANDIN", "gh-standin.json"))


def load() -> dict:
    """The pull requests, calls, comments and releases kept so far; empty lists the first time."""
    state = json.loads(STATE.read_text()) if STATE.is_file() else {}
    for key in ("pulls", "calls", "comments", "releases"):
        state.setdefault(key, [])
    return state


def save(state: dict) -> None:
    STATE.write_text(json.dumps(state, indent=2))
