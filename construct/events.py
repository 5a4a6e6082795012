"""What the resilience layer is doing, for logs and metrics.

Every attempt, retry (with its wait and why), key rotation (the key shown by its
last four characters only), fallback and circuit state change is an `Event`. It
goes to the standard `logging` logger named `construct` and to every callback
registered with `subscribe`:

    import construct.events
    unsubscribe = construct.events.subscribe(lambda e: print(e.kind, e.message))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .secrets import scrub_secret_patterns

__all__ = ["Event", "EventKind", "emit", "enabled", "subscribe"]

log = logging.getLogger("construct")
# A library is silent until the application configures logging: without a handler of its
# own, Python's last-resort handler would print every warning to stderr.
log.addHandler(logging.NullHandler())

EventKind = Literal["attempt", "retry", "key_rotation", "fallback", "circuit", "success", "failure"]
_LEVELS = {
    "attempt": logging.DEBUG,
    "retry": logging.INFO,
    "key_rotation": logging.INFO,
    # What the chain does on its own is information; its error, if it fails, is the news.
    "fallback": logging.INFO,
    "circuit": logging.INFO,
    "success": logging.DEBUG,
    "failure": logging.INFO,
}

_listeners: list[Callable[[Event], None]] = []
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    message: str
    provider: str | None = None
    model: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def subscribe(callback: Callable[[Event], None]) -> Callable[[], None]:
    """Call `callback` with every event; returns a function that unsubscribes it."""
    with _lock:
        _listeners.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return unsubscribe


def enabled(kind: EventKind) -> bool:
    """Is anyone listening? Lets hot paths skip building a message nobody reads."""
    return bool(_listeners) or log.isEnabledFor(_LEVELS[kind])


def emit(
    kind: EventKind,
    message: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    **data: Any,
) -> None:
    level = _LEVELS[kind]
    if not _listeners and not log.isEnabledFor(level):
        return
    event = Event(kind, scrub_secret_patterns(message), provider, model, data)
    log.log(level, "%s: %s", kind, event.message)
    for callback in list(_listeners):
        try:
            callback(event)
        except Exception:  # a broken listener must not break the call it observes
            log.exception("construct event listener failed")
