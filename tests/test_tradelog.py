"""trades_log.csv: header, formatting, read-back, restart keys, and writes that fail for real."""
import logging
import os
import shutil
import stat
import tempfile
import traceback
from decimal import Decimal as D
from pathlib import Path

import pytest

from arbitrage.accounting.ledger import DEFAULT_PAIR, COLUMNS, LedgerRow, actual_btc, funding_row, iso_utc, with_pair
from arbitrage.models import Income
from arbitrage.accounting.tradelog import HEADER, TradeLog, TradeLogError, format_line, read_rows, row_key
from tests.test_ledger import example_rows

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

SEED_HEADER = ("ts_ms,ts_iso,event,trade_id,side,Q_btc,N_cntr,spot_vwap,perp_vwap,spot_orderId,"
               "cm_orderId,fee_btc_spot,fee_btc_cm,income_btc,delta_btc")


def funding(tran_id, time_ms=1723161600000, amount="0.00001600"):
    return funding_row(Income("BTCUSD_PERP", "FUNDING_FEE", D(amount), "BTC", time_ms, tran_id, ""),
                       "T1")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_new_file_gets_the_header_and_rows_in_the_exact_format(tmp_path):
    path = tmp_path / "trades_log.csv"
    log = TradeLog(path)
    open_row, fund, close = (with_pair(r, DEFAULT_PAIR) for r in example_rows())
    for row in (open_row, fund, close):
        assert log.append(row)
    text = lines(path)
    assert text[0] == HEADER and len(HEADER.split(",")) == 21     # the 18, then the pair's 3
    assert text[1] == ("1723161300123,2024-08-08T23:55:00.123Z,open,T1723161300123,BUY_SPOT_SELL_PERP,"
                       "0.16009,99,61837.63753514,61876.99940054,28457,22542179,0.00016009,0.00007999,"
                       "0,0.15984992,0,-9899.5873930,,"           # net_btc: an empty cell
                       "BTC,BTCUSDT,BTCUSD_PERP")
    assert text[2] == ("1723161600000,2024-08-09T00:00:00.000Z,funding,T1723161300123,,,,,,,,,,0.00001600,"
                       "0.00001600,,,,BTC,BTCUSDT,BTCUSD_PERP")
    assert text[3].endswith(",9.89107098,9881.17991702,-0.00036524,BTC,BTCUSDT,BTCUSD_PERP")
    assert "None" not in path.read_text() and log.written == 3 and log.pending == 0
    # the example file at the repository root is exactly this
    assert (Path(__file__).parent.parent / "trades_log.csv.example").read_text() == path.read_text()


def test_numbers_never_have_an_exponent():
    row = LedgerRow(1, iso_utc(1), "funding", None, None, D("1E+1"), None, None, None, None, None,
                    None, None, D("0E-8"), D("-1E-8"), None, D("0.000000001"), None)
    line = format_line(row)
    assert "E" not in line.upper().replace("EVENT", "")
    assert line == "1,1970-01-01T00:00:00.001Z,funding,,,10,,,,,,,,0.00000000,-0.00000001,,0.000000001,,,,\n"


def test_read_back_gives_the_same_decimals(tmp_path):
    path = tmp_path / "t.csv"
    log = TradeLog(path)
    rows = example_rows()
    for row in rows:
        log.append(row)
    back = read_rows(path)
    assert [r.cells() for r in back] == [r.cells() for r in rows]
    assert isinstance(back[0].Q_btc, D) and back[0].net_btc is None and back[1].side is None
    # the USDT-paid part of fee_btc_spot is not a column; it is derived on read-back
    assert [actual_btc(r) for r in back] == [actual_btc(r) for r in rows]


def test_existing_file_is_appended_without_a_second_header(tmp_path):
    path = tmp_path / "t.csv"
    TradeLog(path).append(funding(1))
    again = TradeLog(path)                          # a restart
    again.append(funding(2, 1723190400000))
    assert lines(path).count(HEADER) == 1 and len(lines(path)) == 3


def test_header_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "trades_log.csv"
    path.write_text(SEED_HEADER + "\n1,x\n")
    with pytest.raises(TradeLogError) as err:
        TradeLog(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "missing fee_usdt_spot, delta_usdt, net_btc" in msg and "trades_log.old.csv" in msg
    path.write_text(",".join(reversed(COLUMNS)) + "\n")
    with pytest.raises(TradeLogError, match="another order"):
        TradeLog(path)
    assert path.read_text() == ",".join(reversed(COLUMNS)) + "\n"     # nothing written to it


def test_a_line_cut_short_by_a_crash_is_closed_first(tmp_path, caplog):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + "1723161600000,2024-08-09T00:0")
    with caplog.at_level(logging.WARNING):
        TradeLog(path).append(funding(1))
    assert lines(path)[2].startswith("1723161600000,2024-08-09T00:00:00.000Z,funding")
    assert "incomplete" in caplog.text
    errors = []
    assert len(read_rows(path, errors=errors)) == 1 and errors[0][0] == 2


class Records(logging.Handler):
    """The trade log's own log records (no caplog: also used in a forked, unprivileged child)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        logger = logging.getLogger("arbitrage.tradelog")
        self._level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("arbitrage.tradelog")
        logger.removeHandler(self)
        logger.setLevel(self._level)


def fails_then_recovers(path: Path, make_unwritable, make_writable):
    """Two rows fail, one ERROR names the file and the count; after recovery nothing is lost."""
    make_unwritable()
    with Records() as seen:
        log = TradeLog(path)
        assert log.append(funding(1)) is False
        assert log.append(funding(2, 1723190400000)) is False     # no second ERROR for the streak
        assert log.pending == 2 and log.retry() is False
        errors = [r.getMessage() for r in seen.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and str(path) in errors[0] and "1 rows waiting" in errors[0], errors
        make_writable()
        assert log.retry() is True and log.pending == 0
        assert log.append(funding(3, 1723219200000)) is True
        assert any("writable again" in r.getMessage() for r in seen.records)
    rows = read_rows(path)
    assert [r.delta_btc for r in rows] == [D("0.00001600")] * 3
    assert [r.ts_ms for r in rows] == [1723161600000, 1723190400000, 1723219200000]   # no duplicate
    assert lines(path).count(HEADER) == 1


def as_unprivileged(scenario, folder: Path):
    """Run `scenario(folder)` where file permissions apply. Root ignores them, so under root it runs
    in a forked child that became `nobody` (the modules are already loaded; nothing is exec'ed)."""
    if not IS_ROOT:
        scenario(folder)
        return
    shared = Path(tempfile.mkdtemp(prefix="tradelog-"))
    shared.chmod(0o777)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            scenario(shared)
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        report = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(shared, ignore_errors=True)
    if status != 0:
        pytest.fail(f"unprivileged scenario failed:\n{report}")


def _read_only_file(folder: Path):
    path = folder / "trades_log.csv"
    path.write_text(HEADER + "\n")
    fails_then_recovers(path, lambda: path.chmod(stat.S_IRUSR | stat.S_IRGRP),
                        lambda: path.chmod(0o644))


def _read_only_folder(folder: Path):
    sub = folder / "logs"
    sub.mkdir()
    fails_then_recovers(sub / "trades_log.csv", lambda: sub.chmod(stat.S_IRUSR | stat.S_IXUSR),
                        lambda: sub.chmod(0o755))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_read_only_file_keeps_rows_and_retries(tmp_path):
    as_unprivileged(_read_only_file, tmp_path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_read_only_folder_keeps_rows_and_retries(tmp_path):
    as_unprivileged(_read_only_folder, tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_keeps_rows_and_retries(tmp_path):
    # A real ENOSPC from the kernel: the log file is a link to /dev/full until the "disk" gets
    # space again (the link is replaced by a real file).
    path = tmp_path / "trades_log.csv"
    fails_then_recovers(path, lambda: path.symlink_to("/dev/full"), path.unlink)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_bound_on_waiting_rows_is_loud_and_shows_the_row(tmp_path, caplog):
    path = tmp_path / "trades_log.csv"
    path.symlink_to("/dev/full")
    log = TradeLog(path, max_pending=2)
    with caplog.at_level(logging.ERROR):
        for i in range(3):
            log.append(funding(i + 1, 1723161600000 + i))
    assert log.pending == 2
    dropped = [r.getMessage() for r in caplog.records if "NOT kept" in r.getMessage()]
    assert len(dropped) == 1 and "1723161600002,2024-08-09T00:00:00.002Z,funding" in dropped[0]


def test_keys_let_a_restart_skip_rows_already_written(tmp_path):
    path = tmp_path / "t.csv"
    log = TradeLog(path)
    open_row, fund, close = example_rows()
    for row in (open_row, fund):
        log.append(row)
    keys = TradeLog(path).keys()                    # after a restart
    assert row_key(open_row) in keys and row_key(fund) in keys and row_key(close) not in keys
    assert row_key(open_row) == ("T1723161300123", "open", "28457", "22542179", None, None)
    assert row_key(fund) == ("T1723161300123", "funding", None, None, 1723161600000, None)


def test_malformed_lines_raise_or_are_listed(tmp_path):
    path = tmp_path / "t.csv"
    good = format_line(funding(1))
    path.write_text(HEADER + "\n" + good + "1,2,3\n" + good.replace("0.00001600", "abc", 1) + good)
    with pytest.raises(TradeLogError, match="line 3"):
        read_rows(path)
    errors = []
    assert len(read_rows(path, errors=errors)) == 2
    assert errors == [(3, "3 cells, expected 21"), (4, "income_btc: 'abc' is not a number")]


# -- checked at start (issue 10 item 3): a ledger that cannot take rows stops the start -----------
def test_check_writable_writes_the_header_of_a_new_file(tmp_path):
    path = tmp_path / "trades_log.csv"
    TradeLog(path).check_writable()
    assert lines(path) == [HEADER]


def _read_only_at_start(folder: Path):
    path = folder / "trades_log.csv"
    path.write_text(HEADER + "\n")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    with pytest.raises(TradeLogError, match=r"TRADES_LOG: .*trades_log.csv cannot be written"):
        TradeLog(path).check_writable()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_check_writable_refuses_a_read_only_file(tmp_path):
    as_unprivileged(_read_only_at_start, tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_check_writable_refuses_a_full_disk_and_error_says_why(tmp_path):
    path = tmp_path / "trades_log.csv"
    path.symlink_to("/dev/full")
    log = TradeLog(path)
    with pytest.raises(TradeLogError, match="cannot be written"):
        log.check_writable()
    assert "No space left" in log.error
    path.unlink()
    assert log.retry() is True and log.error is None
