"""Funding carry: holding spot against the perpetual to collect funding."""
