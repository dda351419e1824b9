"""Logging: one human-readable line per event on stderr, with API keys and secrets redacted.

Redaction sits on the handler rather than at the call sites because the dangerous leaks are the
ones nobody wrote on purpose: a URL or request body inside an exception, a traceback from a
third-party library, a repr at DEBUG level.
"""
from __future__ import annotations

import logging
import re
import sys
from decimal import Decimal
from typing import Iterable

from arbitrage.numbers import plain

MASK = "****"
MIN_SECRET_LEN = 8          # shorter values would mask ordinary words and numbers all over the log
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NOISY_LOGGERS = ("urllib3", "websocket", "websockets")

_OURS = "_arbitrage_handler"    # marks the handler setup_logging installed, so a second call replaces it


class SecretFilter(logging.Filter):
    """Replaces every configured secret in a record's final text (message, exception, stack)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another one is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:       # a bad %-format: let the handler report it as logging always does
            return True
        # The record is rewritten in place, so every handler after this one sees only the masked text.
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# one %-conversion of a log message: which argument goes where, and as what
_CONVERSION = re.compile(
    r"%(?:\(\w+\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


class PlainNumbers(logging.Filter):
    """Every Decimal a log call passes for a `%s` is shown by `numbers.plain` (never `2E-8`, never
    16 decimals of trailing zeros), whoever wrote the call; `%.2f` and the like are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not any(type(a) is Decimal for a in args):
            return True
        kinds = [m.group(1) for m in _CONVERSION.finditer(str(record.msg)) if m.group(1) != "%"]
        if len(kinds) == len(args):
            record.args = tuple(plain(a) if type(a) is Decimal and kind == "s" else a
                                for a, kind in zip(args, kinds))
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Install the stderr handler (`HH:MM:SS.mmm LEVEL message`) on the root logger; safe to call twice."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
                                           datefmt="%H:%M:%S"))
    handler.addFilter(PlainNumbers())          # before the secrets: that one formats the message
    handler.addFilter(SecretFilter(secrets))
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    # Ours goes first: the filter masks the shared record before any other handler formats it.
    root.handlers.insert(0, handler)
    root.setLevel(level)
    # Library chatter (connection pools, frame dumps) only when the user asked for DEBUG.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
    # asyncio (the local exchange's WebSocket server) warns "socket.send() raised exception." for
    # every broadcast that races a client's disconnect: expected on a stop, noise to a user
    logging.getLogger("asyncio").setLevel(logging.NOTSET if level == "DEBUG" else logging.ERROR)
