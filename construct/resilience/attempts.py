"""The record of a call's attempts, and the L6 failure message built from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    return "\n".join([HEADER, *(a.line() for a in attempts)])
