"""Resilience: `ReliableProvider` (retries, fallbacks, key rotation) and `RouterProvider`."""

from .reliable import ReliableProvider
from .router import Route, RouterProvider

__all__ = ["ReliableProvider", "Route", "RouterProvider"]
