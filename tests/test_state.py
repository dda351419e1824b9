"""The state file: exact round trip, atomic replacement, concurrent saves, and loud corruption."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

import arbitrage.persistence.state as state_mod
from arbitrage.models import COINM, SPOT, OrderRequest
from arbitrage.persistence.state import (KEEP_IDS, EngineSnapshot, StateError, StateStore, decode, default_path,
                                         encode)
from arbitrage.strategy.engine import ENTERING, FLAT, HALTED, HEDGED, Trade

SPOT_SYM, CM_SYM = "BTCUSDT", "BTCUSD_PERP"


def full_trade() -> Trade:
    """Every field away from its default, Decimals with awkward exponents and trailing zeros."""
    return Trade("T1723100000123", "buy_spot", 1723100000123, 3.25, spot_btc=D("0.00150000"),
                 spot_held=D("0.0014985"), contracts=D("-1"), spot_vwap=D("60123.45"),
                 perp_vwap=D("60150.1"), gross_edge_bps=4.125, net_edge_bps=-0.1,
                 exit_reason="timeout", exit_spread_bps=-0.5, closed_ms=1723100099999,
                 exit_spot_vwap=D("1E+2"), exit_perp_vwap=D("6.01E4"), rescues=2,
                 notes=("rescued", "résumé ✓"))


def full_snapshot(**changes) -> EngineSnapshot:
    t = full_trade()
    snap = EngineSnapshot(
        spot_symbol=SPOT_SYM, coinm_symbol=CM_SYM, venue="testnet", saved_ms=1723100100000,
        engine_state=ENTERING, halt_reason=None, trade=t, pair_kind="entry",
        pending_orders=(
            OrderRequest(SPOT, SPOT_SYM, "BUY", "LIMIT_MAKER", D("0.00150"), f"{t.trade_id}-s-e1",
                         price=D("60123.45")),
            OrderRequest(COINM, CM_SYM, "SELL", "LIMIT", D("1"), f"{t.trade_id}-p-e1",
                         price=D("60150.1"), time_in_force="GTX"),
            OrderRequest(COINM, CM_SYM, "BUY", "MARKET", D("1E-8"), f"{t.trade_id}-p-r1",
                         reduce_only=True),
        ),
        baseline_contracts=D("-7"), spot_btc_net=D("0.000000012345678901234567890"),
        contracts_net=D("-120"), last_exit_ms=1723000000000, income_cursor_ms=1722990000000,
        seen_tran_ids=(9_007_199_254_740_993, 5), entry_ids=("T1", "T2"),
        extra={"note": "kept", "n": [1, 2]})
    return replace(snap, **changes)


def test_round_trip_keeps_every_field_exactly(tmp_path):
    store = StateStore(tmp_path / "s.json")
    snap = full_snapshot()
    store.save(snap)
    back = store.load()
    assert back == snap
    # exact to the digit, not merely equal in value: "0.00150000" stays 8 places
    assert str(back.trade.spot_btc) == "0.00150000"
    assert back.spot_btc_net == D("0.000000012345678901234567890")
    assert back.pending_orders[2].quantity == D("0.00000001")
    assert back.trade.exit_perp_vwap == D("60100")
    assert back.seen_tran_ids[0] == 9_007_199_254_740_993      # beyond a float's exact integers
    assert back.trade.notes == ("rescued", "résumé ✓")
    assert back.pending_orders[1].time_in_force == "GTX" and back.pending_orders[2].reduce_only


def test_decimals_are_strings_without_exponent(tmp_path):
    raw = json.loads(encode(full_snapshot()))
    assert raw["version"] == 1
    assert raw["pending_orders"][2]["quantity"] == "0.00000001"
    assert raw["trade"]["exit_spot_vwap"] == "100"
    assert raw["contracts_net"] == "-120"
    assert "E" not in json.dumps(raw["trade"]).replace("EXIT", "")


@pytest.mark.parametrize("state", [FLAT, HEDGED, HALTED])
def test_round_trip_other_states(tmp_path, state):
    snap = full_snapshot(engine_state=state, pair_kind=None, pending_orders=(),
                         trade=None if state == FLAT else full_trade(),
                         halt_reason="rescue failed" if state == HALTED else None,
                         baseline_contracts=None, last_exit_ms=None)
    store = StateStore(tmp_path / "s.json")
    store.save(snap)
    assert store.load() == snap


def test_id_lists_keep_only_the_newest():
    snap = full_snapshot(seen_tran_ids=list(range(KEEP_IDS + 500)),
                         entry_ids=[f"T{i}" for i in range(KEEP_IDS + 1)])
    assert len(snap.seen_tran_ids) == KEEP_IDS and snap.seen_tran_ids[0] == 500
    assert snap.entry_ids[0] == "T1" and snap.entry_ids[-1] == f"T{KEEP_IDS}"


def test_missing_file_is_none_and_directory_is_created(tmp_path):
    store = StateStore(tmp_path / "deep" / "er" / "s.json")
    assert store.load() is None
    store.save(full_snapshot())
    assert store.load() == full_snapshot()


def test_no_temp_file_left_and_replace_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    store = StateStore(path)
    old = full_snapshot(saved_ms=1)
    store.save(old)
    store.save(full_snapshot(saved_ms=2))
    assert os.listdir(tmp_path) == ["s.json"]
    assert store.load().saved_ms == 2

    def crash(src, dst):                    # the process dies between write and rename
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(state_mod.os, "replace", crash)
    with pytest.raises(OSError):
        store.save(full_snapshot(saved_ms=3))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["s.json"]           # the temp file was removed
    assert store.load().saved_ms == 2                    # the previous snapshot, whole


def test_write_order_fsync_file_rename_fsync_directory(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def rename(src, dst):
        events.append("replace")
        real_replace(src, dst)
    monkeypatch.setattr(state_mod.os, "fsync", fsync)
    monkeypatch.setattr(state_mod.os, "replace", rename)
    StateStore(tmp_path / "s.json").save(full_snapshot())
    assert events == ["fsync file", "replace", "fsync dir"]


def test_save_refuses_an_inconsistent_snapshot(tmp_path):
    store = StateStore(tmp_path / "s.json")
    store.save(full_snapshot(saved_ms=1))
    with pytest.raises(ValueError, match="needs a trade"):
        store.save(full_snapshot(trade=None))
    assert store.load().saved_ms == 1


def test_concurrent_saves_from_two_threads(tmp_path):
    store = StateStore(tmp_path / "s.json")
    counter = {"n": 0}
    errors: list[BaseException] = []

    def build():
        counter["n"] += 1
        return full_snapshot(saved_ms=counter["n"])

    def worker(kind: str):
        try:
            for i in range(60):
                if kind == "save":
                    store.save(full_snapshot(saved_ms=10_000 + i))
                else:
                    store.update(build)
                loaded = store.load()       # readers never see a half-written file
                assert loaded is not None
        except BaseException as exc:       # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("save", "update", "update")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert counter["n"] == 120                # update built every snapshot under the lock
    assert store.load() is not None
    assert os.listdir(tmp_path) == ["s.json"]


def test_update_leaves_the_newest_state(tmp_path):
    store = StateStore(tmp_path / "s.json")
    got = store.update(lambda: full_snapshot(saved_ms=42))
    assert got.saved_ms == 42 and store.load().saved_ms == 42


def test_default_path():
    assert default_path("BTCUSDT", "BTCUSD_PERP") == "state/btcusdt_btcusd_perp.json"


def test_unknown_keys_are_ignored_and_optional_ones_default(tmp_path):
    raw = json.loads(encode(full_snapshot()))
    raw["future_field"] = {"x": 1}
    raw["trade"]["future_trade_field"] = "y"
    raw["pending_orders"][0]["future_order_field"] = 3
    del raw["extra"]
    del raw["trade"]["notes"]
    snap = decode(json.dumps(raw))
    assert snap == full_snapshot(extra={}, trade=replace(full_trade(), notes=()))


# -- corrupt files: every one is a StateError naming the file, the problem and what to do -------
def _write_raw(tmp_path: Path, mutate) -> StateStore:
    raw = json.loads(encode(full_snapshot()))
    mutate(raw)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(raw))
    return StateStore(path, spot_symbol=SPOT_SYM, coinm_symbol=CM_SYM, venue="testnet")


def _expect_error(store: StateStore, *fragments: str) -> str:
    with pytest.raises(StateError) as info:
        store.load()
    msg = str(info.value)
    for f in (str(store.path), "--adopt", "move it aside only after checking the exchange",
              *fragments):
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


@pytest.mark.parametrize("content,fragment", [
    (b"", "not valid JSON"),
    (b"{\"version\": 1, \"spot_sym", "truncated"),
    (b"[1, 2]", "not a JSON object"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_unreadable_content(tmp_path, content, fragment):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    _expect_error(StateStore(path), fragment)


def test_truncated_real_file(tmp_path):
    path = tmp_path / "s.json"
    text = encode(full_snapshot())
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
        path.write_text(text[:cut])
        _expect_error(StateStore(path), "not valid JSON")


@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_wrong_version(tmp_path, version):
    _expect_error(_write_raw(tmp_path, lambda r: r.__setitem__("version", version)),
                  f"version is {version!r}")


def test_missing_version(tmp_path):
    _expect_error(_write_raw(tmp_path, lambda r: r.pop("version")), "version is None")


@pytest.mark.parametrize("key", ["spot_symbol", "coinm_symbol", "venue", "saved_ms", "engine_state",
                                 "halt_reason", "trade", "pair_kind", "pending_orders",
                                 "baseline_contracts", "spot_btc_net", "contracts_net",
                                 "last_exit_ms", "income_cursor_ms", "seen_tran_ids", "entry_ids"])
def test_missing_top_level_key(tmp_path, key):
    _expect_error(_write_raw(tmp_path, lambda r: r.pop(key)), f"missing key {key!r}")


@pytest.mark.parametrize("path", [("trade", "contracts"), ("trade", "spot_held"),
                                  ("trade", "trade_id"), ("pending_orders", 1, "price"),
                                  ("pending_orders", 0, "client_order_id"),
                                  ("pending_orders", 2, "reduce_only")])
def test_missing_nested_key(tmp_path, path):
    def mutate(raw):
        node = raw
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]
    where = ".".join(str(p) for p in path).replace(".0.", "[0].").replace(".1.", "[1].") \
        .replace(".2.", "[2].")
    _expect_error(_write_raw(tmp_path, mutate), f"missing key {where!r}")


@pytest.mark.parametrize("key,value,fragment", [
    ("contracts_net", "abc", "not a number"),
    ("contracts_net", "NaN", "not a finite number"),
    ("baseline_contracts", "Infinity", "not a finite number"),
    ("spot_btc_net", 0.1, "amounts are stored as strings"),
    ("saved_ms", "123", "not an integer"),
    ("saved_ms", 1.5, "not an integer"),
    ("income_cursor_ms", True, "not an integer"),
    ("seen_tran_ids", [1, "x"], "'seen_tran_ids[1]'"),
    ("seen_tran_ids", "1,2", "not a list"),
    ("trade", [], "not a JSON object"),
    ("spot_symbol", 5, "not a string"),
])
def test_bad_values(tmp_path, key, value, fragment):
    _expect_error(_write_raw(tmp_path, lambda r: r.__setitem__(key, value)), fragment)


def test_bad_nested_number(tmp_path):
    _expect_error(_write_raw(tmp_path, lambda r: r["pending_orders"][0].__setitem__("quantity", "1,5")),
                  "'pending_orders[0].quantity'", "not a number")
    _expect_error(_write_raw(tmp_path, lambda r: r["trade"].__setitem__("entry_spread_bps", "x")),
                  "'trade.entry_spread_bps'")


@pytest.mark.parametrize("mutate,fragment", [
    (lambda r: r.__setitem__("engine_state", "SLEEPING"), "engine_state 'SLEEPING'"),
    (lambda r: r.__setitem__("trade", None), "needs a trade"),
    (lambda r: r.__setitem__("pair_kind", "exit"), "ENTERING with pair_kind 'exit'"),
    (lambda r: r.update(engine_state="HALTED", halt_reason=None), "without a halt_reason"),
    (lambda r: r["pending_orders"][0].__setitem__("symbol", "ETHUSDT"), "not on this pair"),
    (lambda r: r["pending_orders"][0].__setitem__("client_order_id", "T9-s-e1"),
     "does not belong to trade"),
    (lambda r: r["trade"].__setitem__("direction", "sideways"), "trade direction"),
])
def test_inconsistent_content(tmp_path, mutate, fragment):
    _expect_error(_write_raw(tmp_path, mutate), "inconsistent", fragment)


@pytest.mark.parametrize("key,value", [("spot_symbol", "ETHUSDT"), ("coinm_symbol", "ETHUSD_PERP"),
                                       ("venue", "live")])
def test_file_of_another_pair_or_venue(tmp_path, key, value):
    def mutate(raw):
        raw[key] = value
        if key == "spot_symbol":
            raw["pending_orders"][0]["symbol"] = value
        if key == "coinm_symbol":
            for o in raw["pending_orders"][1:]:
                o["symbol"] = value
    _expect_error(_write_raw(tmp_path, mutate), f"belongs to {key} {value!r}")


def test_set_aside_keeps_the_bad_file_for_inspection(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{trunc")
    store = StateStore(path)
    target = store.set_aside(now_ms=77)
    assert target == tmp_path / "s.json.corrupt-77" and target.read_text() == "{trunc"
    assert store.load() is None and store.set_aside() is None


# -- the reserved trade id (an entry's legs leave before its record) ------------------------------
def test_next_trade_id_round_trips_and_older_files_load_without_it(tmp_path):
    store = StateStore(tmp_path / "s.json")
    flat = full_snapshot(engine_state=FLAT, trade=None, pair_kind=None, pending_orders=(),
                         next_trade_id="T1723100200000")
    store.save(flat)
    assert '"next_trade_id": "T1723100200000"' in store.path.read_text()
    assert store.load() == flat
    raw = json.loads(encode(flat))
    del raw["next_trade_id"]                      # a file written before the field existed
    assert decode(json.dumps(raw)) == replace(flat, next_trade_id=None)
    store.save(replace(flat, next_trade_id=None))
    assert store.load().next_trade_id is None
