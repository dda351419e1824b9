"""Names in `.env` or the environment that look like a setting but are none (`ENTRY_BPS=40` for
ENTER_BPS): the loader reads only the names it knows, so a misspelt one would be silently ignored
and the run would trade on the default. Each gets a warning with the nearest valid name.

Only names that look like ours are considered, so PATH, HOME or HTTP_PROXY never draw a warning:
upper-case names within a small edit of a setting's name (difflib similarity ≥ CUTOFF), and any
name whose upper-case spelling is a setting (`enter_bps=40`: the loader wants ENTER_BPS). Values
are never read, so a misspelt secret's value cannot be printed.
"""
from __future__ import annotations

import difflib
import os
from typing import Iterable, Mapping

from dotenv import dotenv_values

CUTOFF = 0.8     # ENTRY_BPS ~ ENTER_BPS 0.89, SPOT_SECRETS ~ SPOT_SECRET 0.96; PAIR ~ PATH 0.5


def misspelt(names: Iterable[str], known: Iterable[str], source: str) -> list[str]:
    """One warning per name that is not a setting but looks like one."""
    known = sorted(set(known))
    warnings = []
    for name in sorted(set(names)):
        if name in known:
            continue
        if name.upper() in known:
            nearest = name.upper()
        elif name.isupper():
            close = difflib.get_close_matches(name, known, n=1, cutoff=CUTOFF)
            if not close:
                continue
            nearest = close[0]
        else:
            continue
        warnings.append(f"{name} (in {source}) is not a setting and is ignored: did you mean "
                        f"{nearest}?")
    return warnings


def misspelt_settings(environ: Mapping[str, str], dotenv_path: str | None,
                      known: Iterable[str]) -> list[str]:
    """Warnings for the environment and the `.env` file (when it exists and reads)."""
    known = list(known)
    warnings = []
    if dotenv_path and os.path.exists(dotenv_path):
        try:
            warnings += misspelt(dotenv_values(dotenv_path, interpolate=False), known, dotenv_path)
        except (OSError, UnicodeDecodeError):
            pass                      # the loader reports an unreadable .env itself
    return warnings + misspelt(environ, known, "the environment")
