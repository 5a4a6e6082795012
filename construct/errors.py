"""Every error construct raises, and how an HTTP failure becomes one.

    ConstructError
    ├── ConfigError                  bad name, bad config, bad key for the provider
    │   ├── UnknownProvider          a provider name no row or form matches
    │   └── InvalidArgument          a value of the wrong type or out of range; also a
    │                                TypeError and a ValueError
    └── ProviderError                a call failed (.provider .status .retry_after .is_retryable)
        ├── AuthError                401 / 403, or no key at all
        ├── RateLimited              429: slow down, retry later           (retryable)
        ├── QuotaExhausted           402, or a 429 that says plan, balance or quota is used up
        ├── InvalidRequest           400 / 404 / 413 / 422: fix the request
        │   └── ContextWindowExceeded  the prompt does not fit the model
        ├── ContentBlocked           refused by the provider's content policy
        ├── TransientError           408 / 409 / 424 / 425 / 5xx / 529, timeouts, resets
        ├── InvalidResponse          a 2xx body construct cannot parse, a 3xx  (retryable)
        ├── StreamInterrupted        a stream broke after its first event (.partial_text)
        ├── ProviderCapabilityError  the provider cannot do what was asked
        └── AllProvidersFailed       every provider and model of a chain failed (.attempts)
            └── AllProvidersRateLimited  ... all by rate limits; also a RateLimited (.retry_after)

Nothing else leaves construct: `except ConstructError` catches every error it raises.
Messages say what went wrong and what to do, and are scrubbed of secrets when
the exception is built, so no key reaches a traceback, a log or the CLI. So is
the exception construct was handling at that moment (and its chain), which
becomes the new one's `__context__` when it is raised.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .retry_after import parse_retry_after
from .secrets import sanitize_api_error, scrub_exception_chain, scrub_secret_patterns

__all__ = [
    "AllProvidersFailed",
    "AllProvidersRateLimited",
    "AuthError",
    "ConfigError",
    "ConstructError",
    "ContentBlocked",
    "ContextWindowExceeded",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidResponse",
    "ProviderCapabilityError",
    "ProviderError",
    "QuotaExhausted",
    "RateLimited",
    "StreamInterrupted",
    "TransientError",
    "UnknownProvider",
    "classify_http_error",
    "error_message_from_body",
]


class ConstructError(Exception):
    """Base of every construct error. The message is scrubbed of secrets."""

    def __init__(self, message: str) -> None:
        # `str()`: callers wrap exceptions (`TransientError(exc)`) as often as strings.
        super().__init__(scrub_secret_patterns(str(message)))
        _scrub_handled_exception()

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(ConstructError):
    """A provider name, option or config file is wrong; nothing was sent."""


class UnknownProvider(ConfigError):
    """No provider matches the name."""

    def __init__(self, message: str, name: str = "", suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.name = scrub_secret_patterns(name)
        self.suggestions = list(suggestions)


class InvalidArgument(ConfigError, TypeError, ValueError):
    """A value handed to construct has the wrong type or is out of range; nothing was sent.

    Also a `TypeError` and a `ValueError`, so code written against the built-in errors
    (`except ValueError`) keeps working while `except ConstructError` catches it too.
    """


def _scrub_handled_exception() -> None:
    """Scrub the exception construct is handling while it builds this error.

    Raised there, this error gets it as `__context__` (even with `from None`, which only
    hides it from printers), and its chain holds what the message was built from: the
    body a JSONDecodeError could not parse (`.doc`), the request an httpx error failed on
    with its Authorization header. An exception a caller of construct is handling is
    theirs and left alone: the frame that caught it is not construct's."""
    handled = sys.exc_info()[1]
    if handled is None or handled.__traceback__ is None:
        return
    catcher = handled.__traceback__.tb_frame.f_globals.get("__name__", "")
    if catcher == "construct" or catcher.startswith("construct."):
        scrub_exception_chain(handled)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# A guard against a whole HTML page passed as a message. Bodies are cut at 500 characters
# where they enter a message (`sanitize_api_error`); cutting the message itself there too
# would drop the advice that follows a long body (which env var to set, what to do).
_MAX_MESSAGE_CHARS = 1000


class ProviderError(ConstructError):
    """A call to a provider failed."""

    is_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(_cut(scrub_secret_patterns(str(message)), _MAX_MESSAGE_CHARS))
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        # The provider's error body, scrubbed and cut, for logs and debugging.
        self.body = sanitize_api_error(body) if body else None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"status={self.status!r}, retry_after={self.retry_after!r})"
        )


class AuthError(ProviderError):
    """The key is missing, wrong, expired, or not allowed to do this."""


class RateLimited(ProviderError):
    """Too many requests; `retry_after` says how long the server asked to wait."""

    is_retryable = True


class QuotaExhausted(ProviderError):
    """The plan, balance or quota behind the key is used up; retrying will not help."""


class InvalidRequest(ProviderError):
    """The provider rejected the request as malformed or unsupported."""


class ContextWindowExceeded(InvalidRequest):
    """The prompt (with tools) is longer than the model accepts."""


class ContentBlocked(ProviderError):
    """The provider's content policy refused the prompt or the answer."""


class TransientError(ProviderError):
    """A failure that may pass: overload, a 5xx, a timeout, a dropped connection."""

    is_retryable = True


class InvalidResponse(ProviderError):
    """The provider answered 2xx with a body construct cannot read."""

    is_retryable = True


class StreamInterrupted(ProviderError):
    """A stream failed after text was already delivered; `partial_text` holds it."""

    is_retryable = False

    def __init__(self, message: str, *, partial_text: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.partial_text = partial_text


class ProviderCapabilityError(ProviderError):
    """The provider cannot do what was asked (a feature, or a backend not available yet)."""

    def __init__(self, message: str, *, capability: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.capability = capability


class AllProvidersFailed(ProviderError):
    """Every attempt of a fallback chain failed; `attempts` lists them."""

    def __init__(self, message: str, *, attempts: Sequence[Any] = (), **kwargs: Any) -> None:
        # Do not cut: the attempt list is the point of this error. Each line is scrubbed.
        ConstructError.__init__(self, message)
        self.provider = kwargs.get("provider")
        self.status = kwargs.get("status")
        self.retry_after = kwargs.get("retry_after")
        self.body = None
        self.attempts = list(attempts)


class AllProvidersRateLimited(AllProvidersFailed, RateLimited):
    """Every attempt was rate limited; `retry_after` is the soonest any of them may succeed.

    Caught by `except AllProvidersFailed` and by `except RateLimited` alike (L3)."""

    is_retryable = True


# Reference §3.3: texts providers use when the prompt is too long.
_CONTEXT_PATTERNS = (
    "exceeds the context window",
    "exceeds the available context size",
    "context window of this model",
    "maximum context length",
    "context length exceeded",
    "context_length_exceeded",
    "too many tokens",
    "token limit exceeded",
    "prompt is too long",
    "input is too long",
    "prompt exceeds max length",
    "reduce the length of the messages",
    # Beyond the reference: Gemini, xAI and Anthropic's max_tokens variant.
    "exceeds the maximum number of tokens",
    "maximum prompt length",
    "exceed context limit",
    # LiteLLM names the class of the error it mapped (`litellm.ContextWindowExceededError:`),
    # whatever the wording behind it; its proxy's own check says "Context Window exceeded".
    "contextwindowexceedederror",
    "context window exceeded",
    # vLLM: "The decoder prompt (length N) is longer than the maximum model length of M",
    # "However, the model's context length is only N tokens", "The prompt (total length N)
    # is too long to fit into the model (context length M)".
    "longer than the maximum model length",
    "context length is only",
    "too long to fit into the model",
    # Ollama: "the input length exceeds the context length" (older releases: "input length
    # exceeds maximum context length"), "prompt too long; exceeded max context length by N".
    "exceeds the context length",
    "exceeded max context length",
    # llama.cpp's error type, which its message may not repeat in every release.
    "exceed_context_size_error",
    # Bedrock (Titan and others): "Too many input tokens. Max input tokens: N, ...".
    "too many input tokens",
)
# Reference §3.3 `is_non_retryable_rate_limit`: a 429 that no wait will fix.
_QUOTA_PATTERNS = (
    "plan does not include",
    "doesn't include",
    "not include",
    "insufficient balance",
    "insufficient_balance",
    "insufficient quota",
    "insufficient_quota",
    "exceeded your current quota",
    "quota exhausted",
    "out of credits",
    "no available package",
    "package not active",
    "purchase package",
    "model not available for your plan",
    # Z.AI / Zhipu: "余额不足或无可用资源包" (no balance or resource package left).
    "余额不足",
    "无可用资源包",
)
# Z.AI business codes of a 429 that no wait fixes (reference §3.3), matched as whole digit runs.
_QUOTA_CODES = frozenset({"1113", "1311"})
_BAD_KEY_PATTERNS = ("api key not valid", "api_key_invalid", "invalid api key")
_CONTENT_PATTERNS = (
    "content_policy_violation",
    "content management policy",
    "content_filter",
    "flagged by our moderation",
    "responsibleaipolicyviolation",
)
_STATUS_PHRASES = {
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    425: "Too Early",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}


def _error_object(body: str) -> dict[str, Any] | None:
    """The JSON error object of a body (`{"error": {...}}`, Gemini's `[{"error": ...}]`, ...)."""
    text = body.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    return data if isinstance(data, dict) else None


def error_message_from_body(body: str) -> str:
    """The human part of an error body: `error.message` of the usual JSON shapes, else the text."""
    text = body.strip()
    data = _error_object(text)
    if data is None:
        return text
    err = data.get("error", data)
    if isinstance(err, dict):
        msg = err.get("message") or err.get("msg") or err.get("detail")
        if isinstance(msg, str) and msg:
            # The first textual one: Gemini's `code` is the number, its `status` the name.
            code = next(
                (c for k in ("code", "type", "status") if isinstance(c := err.get(k), str) and c),
                None,
            )
            return f"{msg} ({code})" if code and code not in msg else msg
    elif isinstance(err, str) and err:
        return err
    for key in ("message", "detail"):
        if isinstance(data.get(key), str):
            return data[key]
    return text


_ERROR_FIELDS = ("message", "msg", "detail", "code", "type", "status", "reason")


def _classification_text(body: str) -> str:
    """What the text rules look at, lower-cased: the error fields of a JSON body, else the body.

    Reading only the error fields keeps a request echoed back beside them (a prompt that says
    "429" or "prompt is too long") from changing the class (LiteLLM PR #36705).
    """
    data = _error_object(body)
    if data is None:
        return body.lower()
    parts: list[str] = []
    for obj in (data.get("error"), data):
        if isinstance(obj, str):
            parts.append(obj)
        elif isinstance(obj, dict):
            parts.extend(
                str(v)
                for k in _ERROR_FIELDS
                if isinstance(v := obj.get(k), str | int) and not isinstance(v, bool)
            )
    # OpenRouter answers "Provider returned error" and relays the upstream's error body in
    # `error.metadata.raw`: the reason is there. Read as a body of its own, so a request
    # echoed in it is skipped the same way.
    err = data.get("error")
    metadata = err.get("metadata") if isinstance(err, dict) else None
    raw = metadata.get("raw") if isinstance(metadata, dict) else None
    if isinstance(raw, str) and raw.strip():
        parts.append(_classification_text(raw))
    return " ".join(parts).lower() if parts else body.lower()


def _is_quota_text(text: str) -> bool:
    return any(p in text for p in _QUOTA_PATTERNS) or not _QUOTA_CODES.isdisjoint(
        re.findall(r"\d+", text)
    )


# Said by a provider on its own; ReliableProvider drops it from its attempt lines (it is
# the thing advised) and says what helps a whole chain instead.
RATE_LIMIT_ADVICE = "Wait and retry, or use ReliableProvider to retry and fall back automatically."
CHAIN_RATE_LIMIT_ADVICE = (
    "Every attempt was rate-limited: wait before calling again, or add keys "
    "(reliability.api_keys) or fallback providers (reliability.fallback_providers)."
)


def _advice(cls: type[ProviderError], key_env: Sequence[str]) -> str:
    if cls is AuthError:
        hint = f" (set {' or '.join(key_env)})" if key_env else ""
        return f"Check that the API key is valid and allowed to use this model{hint}."
    if cls is RateLimited:
        return RATE_LIMIT_ADVICE
    if cls is QuotaExhausted:
        return "Add credit or raise the quota with the provider, or use another key."
    if cls is ContextWindowExceeded:
        return "Shorten the conversation or pick a model with a larger context window."
    if cls is ContentBlocked:
        return "Rephrase the request; the provider's content policy refused it."
    if cls is TransientError:
        return "The provider is having trouble; retry shortly."
    return "Check the model name and request parameters."


def _redirect_message(
    display_name: str, status: int, phrase: str, headers: Mapping[str, str] | None
) -> str:
    # A body naming the model or the parameters says nothing here: the request never
    # reached the API, and its fix is the URL.
    location = _header(headers, "location")
    # Only where it points: a query string may hold a signed token.
    where = f" to {location.split('?', 1)[0]}" if location else ""
    return (
        f"{display_name} API error ({status}{' ' + phrase if phrase else ''}): the server "
        f"redirected{where}. construct never follows redirects, since the request would "
        "carry the API key to wherever it points. Set api_url to the final URL."
    )


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    if not headers:
        return ""
    # httpx's and aiohttp's headers ignore case; a plain dict does not.
    return (headers.get(name) or headers.get(name.title()) or "").strip()


def classify_http_error(
    provider: str,
    display_name: str,
    status: int,
    body: str,
    headers: Mapping[str, str] | None = None,
    key_env: Sequence[str] = (),
    *,
    url: str | None = None,
    keyless: bool = False,
) -> ProviderError:
    """Map an HTTP error response to its construct error: status first, text second (E1).

    `url`, the address called, lets a 404 that names no model say the path is wrong;
    `keyless` says the request carried no credential, which a 401, 403 or 5xx reports."""
    detail = error_message_from_body(body)
    lowered = _classification_text(body)
    cls: type[ProviderError]
    if status in (401, 403) or (status == 400 and any(p in lowered for p in _BAD_KEY_PATTERNS)):
        # Gemini answers a bad key with 400 INVALID_ARGUMENT "API key not valid".
        cls = AuthError
    elif status == 402:
        # Payment Required: DeepSeek's "Insufficient Balance", OpenRouter's credits.
        cls = QuotaExhausted
    elif status == 429:
        # A retry hint means waiting helps, whatever the text says: Gemini's free
        # tier answers per-minute limits with "exceeded your current quota" + retryDelay.
        waiting_helps = parse_retry_after(headers, body) is not None
        cls = QuotaExhausted if _is_quota_text(lowered) and not waiting_helps else RateLimited
    elif status in (400, 404, 413, 422):
        if any(p in lowered for p in _CONTEXT_PATTERNS):
            cls = ContextWindowExceeded
        elif any(p in lowered for p in _CONTENT_PATTERNS):
            cls = ContentBlocked
        else:
            cls = InvalidRequest
    elif status == 500 and any(p in lowered for p in _CONTEXT_PATTERNS):
        # Ollama's older releases answer an overlong prompt with a 500; retrying the same
        # model cannot help. A 502/503 relays a failure elsewhere and stays transient.
        cls = ContextWindowExceeded
    # 424: AWS's ModelErrorException, which AWS says to retry.
    elif status in (408, 409, 424, 425, 529) or status >= 500:
        cls = TransientError
    elif 400 <= status < 500:
        cls = InvalidRequest
    else:
        cls = InvalidResponse
    retry_after = parse_retry_after(headers, body) if status in (429, 503, 529) else None
    phrase = _STATUS_PHRASES.get(status, "")
    if 300 <= status < 400:
        return cls(
            _redirect_message(display_name, status, phrase, headers),
            provider=provider,
            status=status,
            body=body,
        )
    # One line: an HTML error page's newlines and indentation say nothing.
    shown = sanitize_api_error(" ".join(detail.split())) or "(empty body)"
    end = " " if shown.endswith((".", "!", "?", "。")) else ". "
    advice = _advice(cls, key_env)
    if status == 404 and cls is InvalidRequest and url and "model" not in lowered:
        # Nothing at that path (a wrong base URL, a /v2 for /v1): the model is not the cause.
        advice = (
            f"Nothing answers at {url}: check the base URL (api_url, or the custom: URL; "
            "OpenAI-compatible servers usually end in /v1)."
        )
    if keyless and (status in (401, 403) or status >= 500):
        variables = f": set {' or '.join(key_env)}" if key_env else ""
        advice = (
            f"No API key was sent with this request{variables} (in the environment or a "
            ".env file), or api_key in config.toml (api_key= in code). "
            + ("" if status in (401, 403) else advice)
        ).strip()
    message = (
        f"{display_name} API error ({status}{' ' + phrase if phrase else ''}): {shown}{end}{advice}"
    )
    return cls(message, provider=provider, status=status, retry_after=retry_after, body=body)
