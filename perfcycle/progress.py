"""Stage progress for a person at a terminal; silent unless the CLI installs a listener."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[str, str, str], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def clear() -> None:
    _listeners.clear()


def report(stage: str, status: str, message: str) -> None:
    """Tell listeners that a stage ended (done or waiting at a gate) and what it found."""
    for listener in _listeners:
        listener(stage, status, message)
