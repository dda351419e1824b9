"""Accounting: every execution on the account booked in exactly one BTC ledger row.

bookkeeping.py     the engine's bookkeeping: pair results and funding -> rows, once
ledger.py          fills -> BTC ledger rows, funding dedup, net_btc, the invariant (pure)
tradelog.py        trades_log.csv: header check, fsync per row, failed writes kept and retried
sweep.py           executions no pair booked: which to book now, how far the cursor moves (pure)
sweep_cadence.py   ORDER_TRANSPORT=ws: when a sweep of trade lists is worth its weight
start_balances.py  the balances a run starts from, as of start_ms (the invariant's start)

No imports here: each module is imported by its own path.
"""
