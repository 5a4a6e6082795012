"""The record of a call's attempts, and the L6 failure message built from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CHAIN_RATE_LIMIT_ADVICE, RATE_LIMIT_ADVICE
from ..secrets import sanitize_api_error

__all__ = ["Attempt", "failure_message"]

HEADER = "All providers/models failed. Attempts:"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one model on one provider, and how it ended."""

    provider: str
    model: str
    number: int
    of: int
    reason: str
    error: str
    error_type: str = ""
    status: int | None = None
    key: str | None = None  # "…abcd": the last four characters of the key used
    retry_after: float | None = None

    @classmethod
    def of_error(
        cls,
        provider: str,
        model: str,
        number: int,
        of: int,
        reason: str,
        error: BaseException,
        key: str | None = None,
    ) -> Attempt:
        detail = " ".join(sanitize_api_error(str(error) or type(error).__name__).split())
        # "use ReliableProvider" is no advice from inside it; the message ends with the
        # chain's own (failure_message).
        detail = detail.replace(" " + RATE_LIMIT_ADVICE, "")
        return cls(
            provider,
            model,
            number,
            of,
            reason,
            detail,
            type(error).__name__,
            getattr(error, "status", None),
            key,
            getattr(error, "retry_after", None),
        )

    def line(self) -> str:
        return (
            f"provider={self.provider} model={self.model} attempt {self.number}/{self.of}: "
            f"{self.reason}; error={self.error}"
        )


def failure_message(attempts: Sequence[Attempt]) -> str:
    lines = [HEADER, *(a.line() for a in attempts)]
    if attempts and all(a.reason == "rate_limited" for a in attempts):
        lines.append(CHAIN_RATE_LIMIT_ADVICE)
    return "\n".join(lines)
