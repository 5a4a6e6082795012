"""Provider processes as construct providers: started now (`launch`), or on first use
(`process_provider`, what a `process:NAME` provider name builds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import wire
from .client import RemoteProvider

__all__ = ["ProcessDefinition", "launch", "process_provider"]


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    """How to start one provider process: from `[processes.NAME]` or a providers.json entry."""

    command: tuple[str, ...]
    timeout_secs: float = 30.0
    protocol: wire.Protocol = "v3"


def launch(
    command: Sequence[str],
    name: str = "process",
    timeout_s: float = 30.0,
    *,
    protocol: wire.Protocol = "v3",
    env: Mapping[str, str] | None = None,
) -> RemoteProvider:
    """Start `command` as the Infinity daemon does and return a provider that owns it:
    `close()` stops the process. Raises when the process never prints its socket path,
    or exits first (its pid and the tail of its stderr are in the message)."""
    from .spawn import start_process

    process = start_process(command, id=name, timeout_s=timeout_s, env=env)
    return RemoteProvider(name=name, protocol=protocol, process=process)


def process_provider(name: str, definition: ProcessDefinition) -> RemoteProvider:
    """A provider for process `name`, started on its first call (and again if it dies)."""
    from .spawn import start_process

    def start():
        return start_process(definition.command, id=name, timeout_s=definition.timeout_secs)

    return RemoteProvider(name=f"process:{name}", protocol=definition.protocol, starter=start)
