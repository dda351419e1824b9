"""Logging: line format, level, quiet libraries, and secrets masked in messages and tracebacks."""
from __future__ import annotations

import logging
import re

import pytest

from arbitrage.logs import NOISY_LOGGERS, SecretFilter, setup_logging

SECRET = "s3cretVALUEabcdefghijklmnop0123456789"
API_KEY = "apiKEYvmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0"
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR) .*$")


@pytest.fixture(autouse=True)
def restore_logging():
    """setup_logging changes process-wide state; put it back so other tests see pytest's setup."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


def test_one_line_per_event_in_the_house_format(capsys):
    setup_logging("INFO", [])
    logging.getLogger("arbitrage.book").info("[RESYNC] %s gap %d", "BTCUSDT", 3)
    logging.getLogger("arbitrage.book").debug("hidden at INFO")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]), lines
    assert lines[0].endswith(" INFO [RESYNC] BTCUSDT gap 3")


def test_secret_in_message_is_masked(capsys, caplog):
    setup_logging("INFO", [SECRET, API_KEY, ""])
    logging.getLogger("arbitrage.exchanges").warning("signed GET ?apiKey=%s&sig=%s done", API_KEY, SECRET)
    err = capsys.readouterr().err
    assert "apiKey=**** " not in err and "apiKey=****&sig=**** done" in err
    assert SECRET not in err and API_KEY not in err
    # The record itself is rewritten, so handlers after ours (here pytest's) see the masked text too.
    assert SECRET not in caplog.text and "sig=****" in caplog.text


def test_secret_in_exception_traceback_is_masked(capsys):
    setup_logging("INFO", [SECRET])
    log = logging.getLogger("arbitrage.exchanges")
    try:
        raise RuntimeError(f"request failed: https://x/api?secret={SECRET}")
    except RuntimeError:
        log.exception("order POST failed")
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: request failed: https://x/api?secret=****" in err
    assert SECRET not in err


def test_secret_in_stack_info_is_masked(capsys):
    setup_logging("INFO", [SECRET])
    logging.getLogger("arbitrage").info("where %s", SECRET, stack_info=True)
    err = capsys.readouterr().err
    assert "Stack (most recent call last)" in err and SECRET not in err


def test_short_values_are_not_treated_as_secrets():
    f = SecretFilter(["abc", "1234567", "longer-secret"])
    assert f.redact("abc 1234567 longer-secret") == "abc 1234567 ****"


def test_secret_containing_another_is_masked_whole():
    f = SecretFilter(["abcdefgh", "abcdefgh12345678"])
    assert f.redact("k=abcdefgh12345678") == "k=****"


def test_calling_twice_keeps_one_handler(capsys):
    setup_logging("INFO", [])
    setup_logging("WARNING", [SECRET])
    logging.getLogger("arbitrage").warning("once %s", SECRET)
    logging.getLogger("arbitrage").info("below WARNING")
    lines = capsys.readouterr().err.splitlines()
    assert lines == [lines[0]] and lines[0].endswith("WARNING once ****")


def test_third_party_loggers_quiet_unless_debug(capsys):
    setup_logging("INFO", [])
    logging.getLogger("urllib3.connectionpool").info("Starting new HTTPS connection")
    logging.getLogger("websocket").info("frame dump")
    assert capsys.readouterr().err == ""
    setup_logging("DEBUG", [])
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection")
    assert "DEBUG Starting new HTTPS connection" in capsys.readouterr().err


def test_unknown_level_refused():
    with pytest.raises(ValueError):
        setup_logging("VERBOSE", [])
