"""Prefect tasks: each opens its own session, works on a whole stage or department, and calls the rules."""
