"""The models a provider process offers: provider-scoped ids over upstream models.

An offer's `model_id` is what the daemon sees and picks; `model` is what is sent
upstream, through the served (routed, reliable) provider. One upstream model can be
offered twice, e.g. a 1M-context variant whose `extra` adds a beta flag to every request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..types import ModelEntry

__all__ = ["DEFAULT_CONTEXT_WINDOW", "ModelOffer", "offers_from_config", "offers_from_entries"]

log = logging.getLogger("construct")

# The protocol requires a context window (the daemon compacts at 75 % of it). A model
# whose listing gives none is offered with this, said once in the log; declare the
# model under [[models]] to give the real one.
DEFAULT_CONTEXT_WINDOW = 128_000


@dataclass(frozen=True, slots=True)
class ModelOffer:
    """One entry of a provider process's catalog."""

    model_id: str
    model: str
    display_name: str | None = None
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_output_tokens: int | None = None
    supports_image_input: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def entry(self) -> ModelEntry:
        return ModelEntry(
            self.model_id,
            self.display_name or self.model_id,
            self.context_window,
            self.max_output_tokens,
            self.supports_image_input,
        )


def offers_from_entries(entries: Iterable[ModelEntry]) -> list[ModelOffer]:
    """A catalog from a provider's own `list_models()`: each model offered as itself."""
    offers = []
    guessed = []
    for e in entries:
        if e.context_window is None:
            guessed.append(e.model_id)
        offers.append(
            ModelOffer(
                e.model_id,
                e.model_id,
                e.display_name,
                e.context_window or DEFAULT_CONTEXT_WINDOW,
                e.max_output_tokens,
                bool(e.supports_image_input),
            )
        )
    if guessed:
        shown = ", ".join(guessed[:5]) + (" ..." if len(guessed) > 5 else "")
        log.info(
            "no context window listed for %d model(s) (%s): offered with %d tokens; declare "
            "them under [[models]] to give the real one",
            len(guessed),
            shown,
            DEFAULT_CONTEXT_WINDOW,
        )
    return offers


def offers_from_config(models: Sequence[Any]) -> list[ModelOffer]:
    """A catalog from config.toml's `[[models]]` (`construct.config.ModelConfig` entries)."""
    seen: set[str] = set()
    offers = []
    for i, m in enumerate(models):
        if m.model_id in seen:
            raise ConfigError(f"models[{i}].model_id: {m.model_id!r} is offered twice")
        seen.add(m.model_id)
        offers.append(
            ModelOffer(
                m.model_id,
                m.model or m.model_id,
                m.display_name,
                m.context_window,
                m.max_output_tokens,
                m.supports_image_input,
                dict(m.extra),
            )
        )
    return offers
