"""Infinity model-provider processes: serve construct's providers to Infinity, or call one.

Infinity (hydro-project) runs each model provider as a separate process that answers
one JSON line request per Unix-socket connection with JSON lines. `wire` holds that
protocol as pure functions (all three generations, v1 to v3); `server` serves any
construct provider with it, `client` is a construct provider over it, `spawn` and
`launching` start processes as the daemon does, `processes` reads and writes
`providers.json`. docs/processes.md explains both directions.

Nothing here is imported by `import construct`, and each name below loads its module
on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "ModelOffer",
    "ProcessDefinition",
    "ProviderProcess",
    "ProviderServer",
    "RemoteProvider",
    "launch",
    "load_providers_json",
    "serve_provider",
    "start_process",
]

_WHERE = {
    "ModelOffer": "catalog",
    "ProcessDefinition": "launching",
    "ProviderProcess": "spawn",
    "ProviderServer": "server",
    "RemoteProvider": "client",
    "launch": "launching",
    "load_providers_json": "processes",
    "serve_provider": "server",
    "start_process": "spawn",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'construct.remote' has no attribute {name!r}")
    value = getattr(import_module(f"construct.remote.{module}"), name)
    globals()[name] = value
    return value
