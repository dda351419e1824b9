"""The capture format: one message per line, `<local receive ns> <raw JSON>`, gzip when the file
name ends in `.gz` (the same format as the recorded data described in data/SOURCES.md).

Written by the bot's `--record FILE`, read by replay and `app.check_capture`.
"""
from __future__ import annotations

import gzip
import io
import logging
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

log = logging.getLogger("arbitrage.capture")


def _open_text(path: str | Path, mode: str) -> TextIO:
    if str(path).endswith(".gz"):
        # line buffering makes each line reach the file (a gzip sync flush), so a capture cut
        # short by a crash is still readable up to its last message
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="utf-8", line_buffering=True)
    return open(path, mode, encoding="utf-8", buffering=1)


def iter_capture(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (recv_ns, raw message) per line. A line without a valid time prefix is logged and
    skipped; a gzip file cut short ends the iteration with a warning (the recorder was killed)."""
    with (gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz")
          else open(path, encoding="utf-8")) as f:
        lineno = 0
        try:
            for line in f:
                lineno += 1
                line = line.rstrip("\r\n")
                if not line:
                    continue
                stamp, sep, raw = line.partition(" ")
                if not sep or not stamp.isdigit():
                    log.warning("%s:%d: not '<ns> <message>', skipped: %r", path, lineno, line[:120])
                    continue
                yield int(stamp), raw
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            log.warning("%s: capture ends early after line %d (%s)", path, lineno, exc)


class CaptureWriter:
    """Append raw messages with their receive time. Safe to share between stream threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._f: TextIO | None = _open_text(self.path, "a")

    def write(self, recv_ns: int, raw: str | bytes) -> None:
        if isinstance(raw, (bytes, bytearray)):
            raw = bytes(raw).decode("utf-8", errors="replace")
        if "\n" in raw or "\r" in raw:
            # a bare line break in JSON can only be whitespace; it must not split the record
            raw = raw.replace("\r", " ").replace("\n", " ")
        with self._lock:
            if self._f is None:
                raise ValueError(f"capture {self.path} is closed")
            self._f.write(f"{recv_ns} {raw}\n")

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
