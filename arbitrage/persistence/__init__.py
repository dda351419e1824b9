"""Persistence: what survives a restart (a SIGKILL included) and how a restart trusts it.

state.py      the engine state file: atomic save, strict load
reconcile.py  on start: state file vs the exchange -> resume / recover / halt / adopt (pure)
locks.py      one bot per state file and ledger (flock, holder's PID)
unsaved.py    at exit: ledger rows or state that could not be written -> a fallback file

No imports here: each module is imported by its own path.
"""
