"""Settings: the layers, every validation rule, venue choice, masking and the .env permission check."""
from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path

import pytest

from arbitrage.config import (SPECS, Settings, SettingsError, check_dotenv_permissions,
                              load_settings)
from arbitrage.venues import VenueUrls, urls_for

SPOT_KEY = "spotKEYabcdefghijklmnop1234"
SPOT_SECRET = "spotSECRETqrstuvwxyz98765432"
DAPI_KEY = "dapiKEYzyxwvutsrqponm5555"
DAPI_SECRET = "dapiSECRETabcdefghij00001111"
KEYS = {"SPOT_KEY": SPOT_KEY, "SPOT_SECRET": SPOT_SECRET, "DAPI_KEY": DAPI_KEY, "DAPI_SECRET": DAPI_SECRET}


def load(argv: list[str] | None = None, env: dict[str, str] | None = None,
         dotenv: Path | None = None) -> Settings:
    return load_settings(argv or [], env or {}, str(dotenv) if dotenv else None)


def problems(argv: list[str] | None = None, env: dict[str, str] | None = None,
             dotenv: Path | None = None) -> list[str]:
    with pytest.raises(SettingsError) as err:
        load(argv, env, dotenv)
    assert str(err.value) == "\n".join(err.value.problems)
    return err.value.problems


def one_problem(argv: list[str] | None = None, env: dict[str, str] | None = None) -> str:
    found = problems(argv, env)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def dotenv(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text("ENTER_BPS=7\nEXIT_BPS=3\nSTOP_BPS=20\nMAX_HOLD_SEC=40\n")
    return path


# --- defaults and layers -------------------------------------------------------------------------

def test_defaults_match_design_and_types():
    s = load()
    assert (s.spot_symbol, s.coinm_symbol, s.venue) == ("BTCUSDT", "BTCUSD_PERP", "sim")
    assert (s.enter_bps, s.exit_bps, s.stop_bps) == (Decimal(6), Decimal(2), Decimal(12))
    assert isinstance(s.enter_bps, Decimal) and isinstance(s.max_v_usd_frontier, Decimal)
    # the frontier cap is a notional (the same on every pair); the base-coin cap is off by default
    assert s.max_v_usd_frontier == Decimal(30000) and s.v_usd == Decimal(10000)
    assert s.max_q_base_frontier == s.max_q_btc_frontier == Decimal(0)
    assert isinstance(s.poll_interval, float) and s.poll_interval == 0.5
    assert isinstance(s.recv_window, int) and s.recv_window == 5000
    assert s.sim_seed == 15 and s.sim_speed == 1.0 and s.sim_source == "synthetic"
    assert s.auto_from_frontier is True and s.dry_run is False and s.flatten_on_exit is False
    assert s.state_path == "state/btcusdt_btcusd_perp.json"
    assert s.trades_log == "trades_log.csv" and s.log_level == "INFO" and s.record == ""
    assert s.print_config is False
    assert all(s.source_of(spec.name) == "default" for spec in SPECS)


def test_every_spec_is_a_settings_field():
    names = {f.name for f in dataclasses.fields(Settings)} - {"print_config", "sources"}
    assert names == {spec.name for spec in SPECS}


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load().enter_bps = Decimal(1)  # type: ignore[misc]


def test_dotenv_overrides_default(dotenv):
    s = load(dotenv=dotenv)
    assert s.enter_bps == Decimal(7) and s.max_hold_sec == 40.0
    assert s.source_of("ENTER_BPS") == ".env" and s.source_of("poll_interval") == "default"


def test_environment_overrides_dotenv(dotenv):
    s = load(env={"ENTER_BPS": "8"}, dotenv=dotenv)
    assert s.enter_bps == Decimal(8) and s.source_of("enter_bps") == "env"
    assert s.stop_bps == Decimal(20) and s.source_of("stop_bps") == ".env"


def test_cli_overrides_environment_and_dotenv(dotenv):
    s = load(["--enter-bps", "9", "--max-hold-sec", "50"], {"ENTER_BPS": "8"}, dotenv)
    assert s.enter_bps == Decimal(9) and s.max_hold_sec == 50.0
    assert s.source_of("enter_bps") == "cli" and s.source_of("max_hold_sec") == "cli"
    assert s.exit_bps == Decimal(3)


def test_missing_dotenv_is_fine_and_dotenv_does_not_touch_os_environ(tmp_path, dotenv):
    assert load(dotenv=tmp_path / "absent.env").enter_bps == Decimal(6)
    load(dotenv=dotenv)
    assert "MAX_HOLD_SEC" not in os.environ


def test_dotenv_values_are_literal(tmp_path):
    path = tmp_path / ".env"
    path.write_text("VENUE=sim\nSPOT_KEY=abc$HOME\nSPOT_SECRET=x\nRECORD=${HOME}/cap.jsonl\n")
    s = load(dotenv=path)
    assert s.spot_key == "abc$HOME" and s.record == "${HOME}/cap.jsonl"


def test_unknown_environment_variables_are_ignored():
    assert load(env={"ENTER_BSP": "junk", "PATH": "/bin"}).enter_bps == Decimal(6)


def test_unknown_flag_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        load(["--enter-bsp", "5"])
    assert exit_.value.code == 2
    assert "--enter-bsp" in capsys.readouterr().err


def test_keys_cannot_be_given_as_flags():
    with pytest.raises(SystemExit):
        load(["--spot-secret", SPOT_SECRET])


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_:
        load(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--enter-bps" in out and "ENTER_BPS" in out and "--confirm-live" in out


def test_print_config_flag():
    assert load(["--print-config"]).print_config is True


# --- symbols -----------------------------------------------------------------------------------

def test_pair_eth_sets_both_symbols_and_state_path():
    s = load(env={"PAIR": "eth"})
    assert (s.pair, s.spot_symbol, s.coinm_symbol) == ("ETH", "ETHUSDT", "ETHUSD_PERP")
    assert s.state_path == "state/ethusdt_ethusd_perp.json"
    assert s.source_of("spot_symbol") == "env"
    assert (s.spot_base, s.coinm_base, s.spot_quote, s.is_perpetual) == ("ETH", "ETH", "USDT", True)


def test_explicit_symbols_on_cli_lower_case_accepted():
    s = load(["--spot", "ethusdt", "--coinm", "ethusd_perp"])
    assert (s.spot_symbol, s.coinm_symbol) == ("ETHUSDT", "ETHUSD_PERP")
    assert s.source_of("coinm_symbol") == "cli"


def test_symbols_from_environment_and_delivery_contract():
    s = load(env={"SPOT_SYMBOL": "BTCUSDC", "COINM_SYMBOL": "BTCUSD_251226"})
    assert s.spot_quote == "USDC" and s.is_perpetual is False and s.coinm_base == "BTC"


@pytest.mark.parametrize("name,value,why", [
    ("SPOT_SYMBOL", "BTC-USDT", "is not a spot symbol"),
    ("SPOT_SYMBOL", "BTCEUR", "is not a spot symbol"),
    ("SPOT_SYMBOL", "USDT", "is not a spot symbol"),
    ("COINM_SYMBOL", "BTCUSDT", "is not a COIN-M symbol"),
    ("COINM_SYMBOL", "BTCUSD_PERPX", "is not a COIN-M symbol"),
    ("COINM_SYMBOL", "BTCUSD_251340", "has no valid delivery date"),
    ("PAIR", "B", "is not a coin name"),
])
def test_bad_symbols(name, value, why):
    line = one_problem(env={name: value})
    assert line.startswith(f"{name}: {value!r} {why} (expected ")


def test_base_coins_must_match():
    line = one_problem(["--spot", "BTCUSDT", "--coinm", "ETHUSD_PERP"])
    assert line.startswith("COINM_SYMBOL:") and "ETH" in line and "BTC" in line


# --- values ------------------------------------------------------------------------------------

def test_non_numeric_message_names_setting_value_and_expectation():
    assert one_problem(env={"ENTER_BPS": "abc"}) == (
        "ENTER_BPS: 'abc' is not a number (expected a decimal number > 0, e.g. 6) [from env]")


def test_cli_problem_names_the_flag():
    assert one_problem(["--sim-seed", "1.5"]).endswith("[from --sim-seed]")


@pytest.mark.parametrize("name,value,why", [
    ("POLL_INTERVAL", "0", "is zero"),
    ("PAIR_TIMEOUT_SEC", "0", "is zero"),
    ("PAIR_POLL_INTERVAL", "0", "is zero"),
    ("SIM_SPEED", "0", "is zero"),
    ("HTTP_TIMEOUT", "0", "is zero"),
    ("RUN_SECONDS", "-1", "is negative"),
    ("REOPEN_COOLDOWN_SEC", "-0.5", "is negative"),
    ("V_USD", "-100", "is negative"),
    ("MAX_Q_BTC_FRONTIER", "-0.5", "is negative"),   # 0 = no cap (the base-coin cap is optional)
    ("MAX_SLIPPAGE_BPS_SPOT", "-1", "is negative"),
    ("BOOK_STALE_MS", "0", "is zero"),
    ("RECV_WINDOW", "0", "is zero"),
    ("RECV_WINDOW", "60001", "is too large"),
    ("RECV_WINDOW", "5000.5", "is not a whole number"),
    ("SIM_SEED", "seven", "is not a whole number"),
    ("MARGIN_RATIO_MAX", "101", "is too large"),
    ("STATUS_INTERVAL", "inf", "is not a finite number"),
    ("MIN_V_USD", "NaN", "is not a finite number"),
    ("VENUE", "paper", "is not allowed"),
    ("EXECUTION_MODE", "twap", "is not allowed"),
    ("ORDER_TRANSPORT", "fix", "is not allowed"),
    ("LOG_LEVEL", "verbose", "is not allowed"),
    ("SIM_SOURCE", "live", "is not allowed"),
    ("SIM_URL", "127.0.0.1:8080", "is not an http address"),
    ("TRADES_LOG", "", "is empty"),
])
def test_bad_value(name, value, why):
    line = one_problem(env={name: value})
    assert line.startswith(f"{name}: {value!r} {why} (expected ") and line.endswith("[from env]")


def test_allowed_values_are_listed():
    assert "one of sim, testnet, live" in one_problem(["--venue", "paper"])
    assert "one of ws, rest" in one_problem(["--order-transport", "udp"])


def test_order_transport_is_rest_unless_asked_for_ws():
    assert load().order_transport == "rest"
    assert load(["--order-transport", "WS"]).order_transport == "ws"


def test_case_insensitive_choices():
    s = load(env={"LOG_LEVEL": "debug", "EXECUTION_MODE": "MAKER", "SIM_SOURCE": "Synthetic"})
    assert (s.log_level, s.execution_mode, s.sim_source) == ("DEBUG", "maker", "synthetic")


def test_enter_must_exceed_exit_and_stop_must_exceed_enter():
    assert one_problem(env={"ENTER_BPS": "2"}).startswith("ENTER_BPS: 2 is not above EXIT_BPS 2")
    assert one_problem(env={"STOP_BPS": "6"}).startswith("STOP_BPS: 6 is not above ENTER_BPS 6")


def test_negative_exit_bps_is_allowed():
    assert load(env={"EXIT_BPS": "-1"}).exit_bps == Decimal(-1)


def test_all_problems_reported_together():
    found = problems(["--venue", "live", "--coinm", "ETHUSD_PERP"],
                     {"ENTER_BPS": "abc", "POLL_INTERVAL": "0", "DRY_RUN": "maybe", "SPOT_KEY": SPOT_KEY})
    starts = [line.split(":")[0] for line in found]
    assert starts == ["DRY_RUN", "POLL_INTERVAL", "ENTER_BPS", "COINM_SYMBOL", "SPOT_SECRET",
                      "VENUE", "VENUE"], found


# --- booleans ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["True", "true", "1", "yes", "on", "YES"])
def test_true_spellings(text):
    assert load(env={"DRY_RUN": text}).dry_run is True


@pytest.mark.parametrize("text", ["False", "false", "0", "no", "off"])
def test_false_spellings(text):
    assert load(env={"AUTO_FROM_FRONTIER": text}).auto_from_frontier is False


def test_bad_boolean():
    assert one_problem(env={"FLATTEN_ON_EXIT": "maybe"}) == (
        "FLATTEN_ON_EXIT: 'maybe' is not a boolean (expected true/false, 1/0, yes/no or on/off) [from env]")


def test_boolean_flags_both_ways():
    assert load(["--dry-run"]).dry_run is True
    assert load(["--no-dry-run"], {"DRY_RUN": "true"}).dry_run is False


# --- venue and keys ------------------------------------------------------------------------------

def test_no_keys_means_sim():
    assert load().venue == "sim"


def test_keys_mean_testnet(tmp_path):
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in KEYS.items()))
    s = load(dotenv=path)
    assert s.venue == "testnet" and s.spot_key == SPOT_KEY and s.dapi_secret == DAPI_SECRET
    assert set(s.secret_values) == set(KEYS.values())


def test_sim_can_be_chosen_with_keys():
    assert load(["--venue", "sim"], KEYS).venue == "sim"


def test_testnet_without_keys_is_refused():
    line = one_problem(["--venue", "testnet"])
    assert line.startswith("VENUE: 'testnet' needs API keys") and "SPOT_KEY, SPOT_SECRET, DAPI_KEY, DAPI_SECRET" in line


def test_live_without_confirmation_is_refused_and_says_how():
    line = one_problem(["--venue", "live"], KEYS)
    assert "--confirm-live" in line and "CONFIRM_LIVE=true" in line


def test_live_with_confirmation_is_accepted():
    assert load(["--venue", "live", "--confirm-live"], KEYS).venue == "live"
    assert load(["--venue", "live"], {**KEYS, "CONFIRM_LIVE": "yes"}).confirm_live is True


def test_key_without_secret_and_secret_without_key():
    assert one_problem(env={"SPOT_KEY": SPOT_KEY, "VENUE": "sim"}) == (
        "SPOT_SECRET: not set while SPOT_KEY is (expected both or neither)")
    assert one_problem(env={"DAPI_SECRET": DAPI_SECRET, "VENUE": "sim"}).startswith("DAPI_KEY: not set")


def test_malformed_secret_is_reported_without_its_value():
    bad = "secretWITH SPACE12345"
    line = one_problem(env={**KEYS, "DAPI_SECRET": bad})
    assert line.startswith("DAPI_SECRET:") and "value not shown" in line
    assert bad not in line and "SPACE" not in line


def test_settings_repr_hides_keys():
    text = repr(load(env=KEYS))
    assert all(value not in text for value in KEYS.values())


# --- replay ------------------------------------------------------------------------------------

def test_replay_needs_existing_files(tmp_path):
    capture = tmp_path / "a.jsonl"
    capture.write_text("")
    s = load(["--sim-source", "replay", "--sim-replay", f"{capture}, {capture}"])
    assert s.sim_replay == f"{capture},{capture}" and s.replay_files == (str(capture), str(capture))
    assert one_problem(["--sim-source", "replay"]).startswith("SIM_REPLAY: not set")
    missing = str(tmp_path / "missing.jsonl")
    assert one_problem(["--sim-source", "replay", "--sim-replay", missing]) == (
        f"SIM_REPLAY: {missing!r} does not exist (expected a capture file)")


# --- masking -----------------------------------------------------------------------------------

def test_masked_shows_values_sources_and_hides_secrets(dotenv):
    with dotenv.open("a") as f:
        f.write(f"SPOT_KEY={SPOT_KEY}\nSPOT_SECRET={SPOT_SECRET}\n")
    env = {"DAPI_KEY": DAPI_KEY, "DAPI_SECRET": "short123"}
    m = load(["--venue", "sim", "--run-seconds", "60"], env, dotenv).masked()
    assert set(m) == {spec.name.upper() for spec in SPECS}
    assert m["ENTER_BPS"] == "7 (.env)" and m["RUN_SECONDS"] == "60.0 (cli)"
    assert m["POLL_INTERVAL"] == "0.5 (default)" and m["VENUE"] == "sim (cli)"
    assert m["SPOT_SECRET"] == f"****{SPOT_SECRET[-4:]} (.env)"
    assert m["DAPI_KEY"] == f"****{DAPI_KEY[-4:]} (env)"
    assert m["DAPI_SECRET"] == "**** (env)"    # too short to show a tail
    dump = "\n".join(m.values())
    for secret in (SPOT_KEY, SPOT_SECRET, DAPI_KEY, "short123"):
        assert secret not in dump


def test_masked_unset_keys():
    assert load().masked()["SPOT_SECRET"] == "(not set) (default)"


# --- .env permissions --------------------------------------------------------------------------

@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_dotenv_permission_warning(dotenv):
    dotenv.chmod(0o644)
    warning = check_dotenv_permissions(str(dotenv))
    assert warning and "chmod 600" in warning and "0644" in warning
    dotenv.chmod(0o600)
    assert check_dotenv_permissions(str(dotenv)) is None
    assert check_dotenv_permissions(str(dotenv.parent / "absent")) is None


# --- venues ------------------------------------------------------------------------------------

def test_venue_urls():
    assert urls_for("testnet") == VenueUrls("https://testnet.binance.vision", "wss://stream.testnet.binance.vision",
                                            "https://testnet.binancefuture.com", "wss://dstream.binancefuture.com")
    assert urls_for("live") == VenueUrls("https://api.binance.com", "wss://stream.binance.com:9443",
                                         "https://dapi.binance.com", "wss://dstream.binance.com")
    for venue in ("sim", "paper"):
        with pytest.raises(ValueError):
            urls_for(venue)


def test_sim_funding_settings_reach_the_in_process_exchange():
    import threading

    from app.main import _open_venue

    assert (load().sim_funding_interval, load().sim_funding_regime) == (28800.0, "normal")
    assert problems(["--sim-funding-interval", "0"]) == [
        "SIM_FUNDING_INTERVAL: '0' is zero (expected a number of seconds > 0, e.g. 28800) "
        "[from --sim-funding-interval]"]
    s = load(env={"SIM_FUNDING_INTERVAL": "2", "SIM_FUNDING_REGIME": "negative"})
    _, _, sim = _open_venue(s, threading.Event(), None)
    try:
        assert sim.source.funding_interval_sec == 2.0
        assert all(p.premium.regime == "negative" for p in sim.source.pairs.values())
        mark = sim.market.marks["BTCUSD_PERP"]
        assert mark.funding_rate < 0 and mark.next_funding_ms % 2000 == 0
    finally:
        sim.stop()
