"""perfcycle: a finance bureau's annual budget-performance cycle, run as Prefect flows."""

__version__ = "0.1.0"
