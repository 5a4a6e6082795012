"""Infinity model-provider processes: serve construct's providers to Infinity, or call one.

Infinity (hydro-project) runs each model provider as a separate process that answers
one JSON line request per Unix-socket connection with JSON lines. `wire` holds that
protocol as pure functions (all three generations, v1 to v3); the server and the
client that use it do the I/O.

Nothing here is imported by `import construct`: the package loads only when asked for.
"""

from __future__ import annotations

__all__: list[str] = []
