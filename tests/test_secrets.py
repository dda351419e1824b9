"""Secrets and safety, end to end: the real bot as a process, every output searched for the keys.

- a debug-level run on a local exchange (started here) whose demo keys come in through the
  environment, with faults injected while it runs: stdout, stderr, the trades CSV, the state file
  and anything else in its work dir must not hold the API key or the secret;
- `--print-config` and a `--venue testnet` attempt with our own known key pair (the testnet is
  made unreachable through a dead loopback proxy: no packet leaves the machine);
- a `.env` readable by others is warned about; `--venue live` without the opt-in exits 2.
"""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from arbitrage.config import check_dotenv_permissions
from arbitrage.sim import LocalExchange
from tests.conftest import REPO, wait_for
from tests.harness import EASY
from tests.test_app_watch import Bot, clean_env

KNOWN_KEY = "KnownApiKey4dR7vQ2mZ9xL1cW8bN3pT6sY0hJ5uE"
KNOWN_SECRET = "KnownSecret9fK2wP7qX4zM1nB8vC3rT6yH0jL5dG"
EXIT_SETTINGS = 2


def dead_port() -> int:
    with socket.socket() as s:                     # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(**extra: str) -> dict[str, str]:
    """Remote venues reachable only through a proxy that does not exist: nothing leaves."""
    proxy = f"http://127.0.0.1:{dead_port()}"
    return clean_env(HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy,
                     ALL_PROXY=proxy, all_proxy=proxy, NO_PROXY="", no_proxy="", **extra)


def known_keys() -> dict[str, str]:
    return dict(SPOT_KEY=KNOWN_KEY, SPOT_SECRET=KNOWN_SECRET,
                DAPI_KEY=KNOWN_KEY + "d", DAPI_SECRET=KNOWN_SECRET + "d")


def run(args: list[str], env: dict[str, str], cwd: Path = REPO,
        timeout: float = 90.0) -> subprocess.CompletedProcess:
    env = dict(env, PYTHONPATH=str(REPO))          # importable from any working directory
    return subprocess.run([sys.executable, "-m", "app.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_absent(secrets: list[str], outputs: dict[str, str]) -> None:
    for where, text in outputs.items():
        for secret in secrets:
            # also a long-enough piece of it: a truncated secret is still a leak
            for piece in {secret, secret[:16], secret[-16:]}:
                assert piece not in text, f"{piece[:4]}... appears in {where}"


def files_under(folder: Path) -> dict[str, str]:
    return {str(p): p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=5, speed=1.0)
    ex.start()
    yield ex
    ex.stop()


def test_a_debug_run_under_faults_never_writes_the_keys(sim, tmp_path: Path) -> None:
    secrets = [sim.api_key, sim.api_secret]
    bot = Bot(["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "8",
               "--status-interval", "1", *EASY],
              LOG_LEVEL="DEBUG", SPOT_KEY=sim.api_key, SPOT_SECRET=sim.api_secret,
              DAPI_KEY=sim.api_key, DAPI_SECRET=sim.api_secret,
              TRADES_LOG=str(tmp_path / "trades_log.csv"), STATE_PATH=str(tmp_path / "state.json"))
    wait_for(lambda: bot.saw("both books synced") or bot.proc.poll() is not None, timeout=60,
             what="the books to sync")
    # faults while it runs, so the error paths (rejects, unknown outcomes, reconnects) log too
    sim.reject_next_orders("spot", 1)
    sim.answer_503_after_executing("coinm", 1)
    sim.drop_next_diff("BTCUSDT")
    sim.disconnect_all()
    code, out, err = bot.finish(timeout=90)
    assert code in (0, 3), err                      # ran to the end (3 = halted, still clean)
    assert "Traceback" not in err
    assert "DEBUG" in err and "[HTTP]" in err, "not a debug-level run"   # verbose enough to leak
    assert "spot-cm-arb summary" in out
    outputs = {"stdout": out, "stderr": err, **files_under(tmp_path)}
    assert str(tmp_path / "state.json") in outputs, "no state file written"
    assert_absent(secrets, outputs)


def test_print_config_shows_no_key_and_no_secret() -> None:
    result = run(["--print-config"], clean_env(LOG_LEVEL="DEBUG", **known_keys()))
    assert result.returncode == 0, result.stderr
    assert "SPOT_SECRET" in result.stdout and "DAPI_KEY" in result.stdout   # listed, masked
    assert_absent([KNOWN_KEY, KNOWN_SECRET], {"stdout": result.stdout, "stderr": result.stderr})


def test_a_failing_testnet_attempt_logs_no_key_and_no_secret(tmp_path: Path) -> None:
    env = offline_env(LOG_LEVEL="DEBUG", TRADES_LOG=str(tmp_path / "trades.csv"),
                      STATE_PATH=str(tmp_path / "state.json"), **known_keys())
    result = run(["--venue", "testnet", "--run-seconds", "2"], env)
    assert result.returncode == 1, result.stderr   # gave up on the unreachable venue
    assert "Traceback" not in result.stderr
    assert "[NET]" in result.stderr                # it did try, and said so
    assert_absent([KNOWN_KEY, KNOWN_SECRET], {"stdout": result.stdout, "stderr": result.stderr,
                                              **files_under(tmp_path)})


# --- .env permissions ----------------------------------------------------------------------------

@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_dotenv_readable_by_others_is_warned_about(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SPOT_KEY={KNOWN_KEY}\nSPOT_SECRET={KNOWN_SECRET}\n")
    dotenv.chmod(0o644)
    warning = check_dotenv_permissions(str(dotenv))
    assert warning and "chmod 600" in warning
    assert_absent([KNOWN_KEY, KNOWN_SECRET], {"warning": warning})
    dotenv.chmod(0o600)
    assert check_dotenv_permissions(str(dotenv)) is None
    assert check_dotenv_permissions(str(tmp_path / "missing.env")) is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
@pytest.mark.parametrize("mode, warned", [(0o644, True), (0o600, False)], ids=["0644", "0600"])
def test_the_bot_warns_about_a_readable_dotenv_it_reads(tmp_path: Path, mode, warned) -> None:
    """The keys come from a `.env` in the working directory, as a user would keep them."""
    (tmp_path / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in known_keys().items()))
    (tmp_path / ".env").chmod(mode)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == mode
    env = offline_env(LOG_LEVEL="DEBUG", TRADES_LOG=str(tmp_path / "trades.csv"),
                      STATE_PATH=str(tmp_path / "state.json"))
    result = run(["--venue", "testnet", "--run-seconds", "2"], env, cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert ("readable by group/others" in result.stderr) is warned, result.stderr
    assert_absent([KNOWN_KEY, KNOWN_SECRET], {"stdout": result.stdout, "stderr": result.stderr})


# --- mainnet needs the explicit opt-in -----------------------------------------------------------

@pytest.mark.parametrize("confirm", [None, "false"], ids=["unset", "false"])
def test_live_without_the_opt_in_exits_2_before_any_request(confirm) -> None:
    env = offline_env(LOG_LEVEL="DEBUG", **known_keys())
    env.pop("CONFIRM_LIVE", None)
    if confirm is not None:
        env["CONFIRM_LIVE"] = confirm
    result = run(["--venue", "live", "--run-seconds", "2"], env)
    assert result.returncode == EXIT_SETTINGS, result.stderr
    assert "Traceback" not in result.stderr
    assert "CONFIRM_LIVE" in result.stderr or "confirm-live" in result.stderr
    assert "[NET]" not in result.stderr and "[HTTP]" not in result.stderr   # nothing was tried
    assert_absent([KNOWN_KEY, KNOWN_SECRET], {"stdout": result.stdout, "stderr": result.stderr})
