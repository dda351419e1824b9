"""Execution: how the bot's orders reach the exchange and what becomes of them.

pairs.py         the pair protocol: concurrent legs, unknown outcomes, deadline, rescue, exit
chase.py         EXECUTION_MODE=chase: the resting spot leg follows the touch, each fill hedged
race.py          CHASE_HEDGE=race: a resting hedge races the way back, over-hedge closed
orders.py        one order's life: status changes only through an explicit table
pair_watch.py    how the pair monitor learns of changes: REST polls, or user-stream events
order_events.py  ORDER_TRANSPORT=ws: pushed executions by client id, gaps, the entry gate
ws_lanes.py      ORDER_TRANSPORT=ws: both WS API connections, both user streams, the gateways
paper.py         DRY_RUN fills on paper: book walks, commissions, COIN-M realized PnL

No imports here: each module is imported by its own path.
"""
