# The README's quick start: `make demo` (run the bot on the built-in local exchange) and `make test`.
# Both create the virtual environment and install the pinned requirements first, so each works on a
# fresh machine that has only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_SECONDS ?= 60

CHAOS_MINUTES ?= 10
CHAOS_TRANSPORT ?= rest
CHAOS_MODE ?= taker

.PHONY: demo demo-scalp test chaos bench check-captures .captures-present clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The tests also drive the local exchange with third-party clients (requirements-dev.txt).
# matplotlib (requirements-plot.txt) too: it is optional for users, but `--plot` is tested.
$(VENV)/.installed-dev: $(BIN)/.installed requirements-dev.txt requirements-plot.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt \
	    -r requirements-plot.txt
	touch $@

# The demo a new user sees first: the funding carry on a local exchange whose funding settles every
# 15 s at hot-market rates (0.1-0.3 % a settlement; Binance's is every 8 h, usually 0.01 %), two and
# a half minutes, flat at the end; the summary says where the BTC came from (edge, fees, funding).
CARRY_SECONDS ?= 150
demo: $(BIN)/.installed
	$(BIN)/python -m app.main --venue sim --run-seconds $(CARRY_SECONDS) --strategy carry \
		--sim-funding-interval 15 --sim-funding-regime hot --carry-hold-hours 0.05 \
		--carry-max-hold-hours 0.05 --carry-invest-usd 6000 --max-slippage-bps-spot 20 \
		--max-slippage-bps-coinm 20 --flatten-on-exit

# The seed's rules (STRATEGY=scalp, the default) for a minute: they trade the spread's moves, and
# at Binance's standard fees they lose (the start-up warning says why)
demo-scalp: $(BIN)/.installed
	$(BIN)/python -m app.main --venue sim --run-seconds $(RUN_SECONDS)

test: $(VENV)/.installed-dev
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

# The bot against a local exchange injecting every fault at random; a table and exit code at the end.
chaos: $(BIN)/.installed
	$(BIN)/python -m app.chaos --minutes $(CHAOS_MINUTES) --order-transport $(CHAOS_TRANSPORT) --execution-mode $(CHAOS_MODE)

# Speed figures (not tests): replay throughput vs json.loads, per-event costs, event-to-order
# latency, start-up, peak RSS of the demo. One table, under two minutes.
bench: $(BIN)/.installed
	$(BIN)/python -m bench

# Rebuild the books from the real captures in ../shared/data and compare with Binance's bookTicker:
# offline, then replayed by the local exchange into the running bot (which stops at the end of the
# recording). The captures are not part of the repository: without them, one line says where they
# were looked for (DATA=dir to look elsewhere).
DATA ?= ../shared/data
CAPTURES := $(DATA)/spot_btcusdt_20240808.gz $(DATA)/cm_btcusd_perp_20240808.gz
MISSING_CAPTURES = $(filter-out $(wildcard $(CAPTURES)),$(CAPTURES))
check-captures: .captures-present $(BIN)/.installed
	$(BIN)/python -m app.check_capture $(CAPTURES)
	$(BIN)/python -m app.main --venue sim --sim-source replay --sim-speed 12 --verify-books \
	    --enter-bps 500 --stop-bps 600 --sim-replay $(shell echo $(CAPTURES) | tr ' ' ',')

.captures-present:
	$(if $(MISSING_CAPTURES),$(error check-captures: $(notdir $(MISSING_CAPTURES)) not found in $(abspath $(DATA)) (the real captures are not part of this repository; DATA=dir to look elsewhere)),@:)

clean:
	rm -rf $(VENV) .pytest_cache
