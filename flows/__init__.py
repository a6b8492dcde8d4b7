"""Prefect flows: one per stage of the annual cycle, and the annual-cycle driver that runs them in order."""
