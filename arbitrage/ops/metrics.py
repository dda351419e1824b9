"""Prometheus series for the fleet's rows (prometheus_client), every series labelled `instance`.

A custom collector: each scrape reads the rows as they are now (status files, ledgers, the
supervisor), so there is no second copy of the numbers to keep in step.
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

STATES = ("FLAT", "ENTERING", "HEDGED", "EXITING", "HALTED")


class FleetCollector:
    def __init__(self, rows: Callable[[], list[dict]]) -> None:
        self.rows = rows

    def collect(self):
        rows = self.rows()
        up = GaugeMetricFamily("arb_up", "1 when the instance runs and its status is fresh",
                               labels=["instance", "spot", "coinm"])
        state = GaugeMetricFamily("arb_state", "1 for the engine state the instance is in",
                                  labels=["instance", "state"])
        paused = GaugeMetricFamily("arb_paused", "1 when new entries are paused by the operator",
                                   labels=["instance"])
        gauges = {k: GaugeMetricFamily(f"arb_{k}", doc, labels=["instance"]) for k, doc in (
            ("spread_bps", "(mark - spot mid) / spot mid, bps"),
            ("open_orders", "orders of the pair in flight"),
            ("net_btc", "cumulative net BTC of the closed trades (ledger)"),
            ("funding_btc", "funding booked in the ledger, BTC"),
            ("event_to_order_ms", "median event-to-order time of the recent entries, ms"),
            ("status_age_seconds", "age of the instance's status file"))}
        counters = {k: CounterMetricFamily(f"arb_{k}", doc, labels=["instance"]) for k, doc in (
            ("fills", "ledger rows of pairs (open, rescue, close)"),
            ("trades_closed", "closed trades in the ledger"),
            ("entries", "entries sent by this process"))}
        rejections = CounterMetricFamily("arb_rejections", "entry refusals by reason (this process)",
                                         labels=["instance", "reason"])
        for r in rows:
            i = r["id"]
            up.add_metric([i, r["spot"], r["coinm"]], 1.0 if r["running"] else 0.0)
            for s in STATES:
                state.add_metric([i, s], 1.0 if r["state"] == s else 0.0)
            paused.add_metric([i], 1.0 if r["paused"] else 0.0)
            latency = (r.get("latency") or {}).get("median_ms")
            for key, value in (("spread_bps", r["spread_bps"]), ("open_orders", r["open_orders"]),
                               ("net_btc", r["net_btc"]), ("funding_btc", r["funding_btc"]),
                               ("event_to_order_ms", latency),
                               ("status_age_seconds", r["status_age_s"])):
                if value is not None:
                    gauges[key].add_metric([i], float(value))
            for key in counters:
                if r.get(key) is not None:
                    counters[key].add_metric([i], float(r[key]))
            for reason, count in (r.get("rejections") or {}).items():
                rejections.add_metric([i, reason], float(count))
        yield from (up, state, paused, *gauges.values(), *counters.values(), rejections)


def render(rows: Callable[[], list[dict]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(rows))
    return generate_latest(registry)


def status_row(status: dict | None) -> list[dict]:
    """An instance's own status as a row for its own /metrics (`metrics_port`): what this process
    knows; the ledger figures (fills, net, funding) are the fleet page's."""
    if not status:
        return []
    return [{"id": status["id"], "spot": status["spot"], "coinm": status["coinm"], "running": True,
             "state": status["state"], "paused": status["paused"],
             "spread_bps": status["spread_bps"], "open_orders": status["open_orders"],
             "net_btc": None, "funding_btc": None, "latency": status["latency"],
             "status_age_s": None, "fills": None, "trades_closed": status["trades_closed"],
             "entries": status["entries"], "rejections": status["rejections"]}]


def serve_instance(port: int, latest: Callable[[], dict | None]) -> int:
    """/metrics of one instance on 127.0.0.1:`port` (a daemon thread); returns the bound port."""
    from prometheus_client import start_http_server
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(lambda: status_row(latest())))
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server.server_address[1]
