"""Settings for a command-line entry point: loaded, or every problem printed one line each on
stderr (the caller then exits 2). Shared so each program reports bad settings the same way."""
from __future__ import annotations

import sys
from collections.abc import Mapping

from arbitrage.config import Settings, SettingsError, load_settings


def settings_or_problems(argv: list[str], environ: Mapping[str, str]) -> Settings | None:
    """The settings, or None after printing `error: <problem>` for each problem found."""
    try:
        return load_settings(argv, environ)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None
