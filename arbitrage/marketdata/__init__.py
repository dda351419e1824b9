"""Market data: the two order books and the mark, kept in sync with the exchange.

book.py       OrderBook + DepthSync: the spot and COIN-M sync procedures as named rules
bookcheck.py  book vs bookTicker comparison (VERIFY_BOOKS and the offline check)
view.py       the engine thread's view of the market: books, mark, snapshot requests
capture.py    capture file reading and recording

No imports here: each module is imported by its own path.
"""
