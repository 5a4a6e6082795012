"""Keeping keys out of every string construct produces.

Two mechanisms, both needed:

* `Secret` holds a key and never shows it: its `repr` and `str` are masked, and
  every value wrapped in one is remembered so `scrub_secret_patterns` removes it
  literally from any text, whatever its shape.
* `scrub_secret_patterns` also removes anything that *looks* like a credential
  (PROVIDERS.md E2), for keys construct was never given (a key echoed back by a
  proxy, a token in a URL).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

__all__ = [
    "Secret",
    "is_credential_header",
    "mask",
    "sanitize_api_error",
    "scrub_exception_chain",
    "scrub_secret_patterns",
]

REDACTED = "[REDACTED]"
MAX_ERROR_CHARS = 500
# A header whose name holds one of these carries a credential (Authorization, x-api-key,
# X-Auth-Token, Cookie, ...). A substring test, not a regex: it runs per header per call.
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "password")

# Every key value this process was handed. Scrubbing them literally catches
# keys of any shape, including ones no pattern below would recognise.
_known_values: set[str] = set()
_known_pattern: re.Pattern[str] | None = None
_known_stale = False

# Token characters of a key body; a match must start at a token boundary, so
# the `sk-` inside `task-x` is left alone (the reference scrubbed it).
_TOKEN = r"[A-Za-z0-9_\-.:]"
_PREFIXED = (
    r"sk-",
    r"xox[bpa]-",
    r"xapp-",
    r"gh[pousr]_",
    r"github_pat_",
    r"AIza",
    r"gsk_",
    r"xai-",
    r"nvapi-",
    r"pplx-",
    r"hf_",
)
_PATTERNS = re.compile(
    "|".join(
        [
            # Prefixed vendor keys: the prefix plus at least 4 token characters.
            rf"(?<![A-Za-z0-9_\-])(?:{'|'.join(_PREFIXED)}){_TOKEN}{{4,}}",
            # AWS access key ids.
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{12,}",
            # JWTs (three base64url segments, the first a JSON header).
            r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*)?",
        ]
    )
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-.~+/=:]{4,}")
# `key=…` style parameters, in a URL or not, at a name boundary (`cache_key=` stays).
_URL_PARAM = re.compile(
    r"(?i)((?<![A-Za-z0-9_\-])"
    r"(?:key|api_key|apikey|access_token|refresh_token|id_token|token|client_secret)=)"
    r"[^&#\s\"'<>]+"
)
# Header dumps: `"x-api-key": "abc"`, `api-key: abc`, `Authorization: Basic abc`. The
# authorization scheme is kept, the credential after it is not (a bare-token regex would
# redact the word `Basic` and leak what follows).
_HEADER_VALUE = re.compile(
    r"(?i)((?:x-api-key|api-key|x-goog-api-key|(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(bearer|basic|token|digest|negotiate|apikey|key|aws4-hmac-sha256)\s+)?"
    r"([^\s\"',}]+)"
)


# `scheme://user:password@host`: the userinfo of a URL (a `custom:` entry, a base URL) is a
# credential whatever its shape. Compiled on first use, and tried only on text holding both
# `://` and `@`: most text scrubbed holds neither.
_USERINFO_SOURCE = r"(?i)(\b[a-z][a-z0-9+.\-]*://)[^/\s@?#\"'<>\[\]]+@"
_userinfo: re.Pattern[str] | None = None


def _redact_userinfo(text: str) -> str:
    global _userinfo
    if "://" not in text or "@" not in text:
        return text
    if _userinfo is None:
        _userinfo = re.compile(_USERINFO_SOURCE)
    return _userinfo.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def _redact_header(m: re.Match[str]) -> str:
    if m.group(3).startswith(REDACTED):
        return m.group(0)
    scheme = f"{m.group(2)} " if m.group(2) else ""
    return f"{m.group(1)}{scheme}{REDACTED}"


def _remember(value: str) -> None:
    global _known_stale
    if len(value) < 8 or value in _known_values:
        # Very short values would redact ordinary words; they are not real keys.
        return
    _known_values.add(value)
    # Compiled at the next scrub, not here: a config with thousands of keys would
    # otherwise compile a pattern of all of them once per key.
    _known_stale = True


def _known() -> re.Pattern[str] | None:
    global _known_pattern, _known_stale
    if _known_stale:
        _known_stale = False  # a key added while compiling marks it stale again
        values = sorted(tuple(_known_values), key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(v) for v in values))
    return _known_pattern


def is_credential_header(name: str) -> bool:
    """Whether a header named `name` carries a credential: mask it, and never pass it on to
    another provider (K1, K4). Case-insensitive; any part of the name counts."""
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


def mask(value: str) -> str:
    """`sk-…abcd`: enough to tell keys apart in a log, never enough to use one."""
    if len(value) <= 8:
        return "…"
    head = value[:3] if value[:3].isascii() else ""
    return f"{head}…{value[-4:]}"


class Secret:
    """A credential whose `repr` and `str` are masked (PROVIDERS.md K4)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("a secret cannot be blank")
        self._value = value
        _remember(value)

    def reveal(self) -> str:
        """The raw key, for the one place that puts it on the wire."""
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:]

    def __repr__(self) -> str:
        return f"Secret('{mask(self._value)}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        # Immutable: `copy.deepcopy` / `dataclasses.asdict` of a config holding one must work.
        return self

    def __reduce__(self):  # pragma: no cover - pickling a key is a leak waiting to happen
        raise TypeError("Secret values cannot be pickled")


def scrub_secret_patterns(text: str) -> str:
    """Replace every credential-looking token, and every key construct holds, by `[REDACTED]`."""
    if not text:
        return text
    text = str(text)
    known = _known()
    if known is not None:
        text = known.sub(REDACTED, text)
    text = _redact_userinfo(text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _URL_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _HEADER_VALUE.sub(_redact_header, text)
    return _PATTERNS.sub(REDACTED, text)


# Scrubbing costs about 0.2 us a character: text longer than what is kept is scrubbed only
# as far as the cut plus this much, room for any real key that starts before the cut (a
# whole 64 MB error body would take seconds). Scrubbed first, cut after, as everywhere.
_KEY_ROOM = 16384


def _scrub_kept(text: str, keep: int) -> str:
    """`text` scrubbed and cut to `keep` characters (the cut marked with `...`)."""
    if len(text) <= keep:
        return scrub_secret_patterns(text)
    clean = scrub_secret_patterns(text[: keep + _KEY_ROOM])
    return clean if len(clean) <= keep else clean[:keep] + "..."


def sanitize_api_error(text: str) -> str:
    """Scrub, then cut at 500 characters and add `...`, so a huge HTML error page stays readable."""
    return _scrub_kept(text, MAX_ERROR_CHARS)


def _scrub_headers(holder: object) -> None:
    # httpx keeps the request it failed on (`exc.request`) with its headers, and so the key:
    # an error reporter that reads the exception's attributes would find it there.
    headers = getattr(holder, "headers", None)
    if not isinstance(headers, MutableMapping):
        return
    for name in list(headers):
        value = headers[name]
        if not isinstance(value, str):
            continue
        clean = REDACTED if is_credential_header(str(name)) else scrub_secret_patterns(value)
        if clean != value:
            headers[name] = clean


def _scrub_bytes(raw: bytes) -> bytes:
    # latin-1 maps bytes to characters one to one, so only what is scrubbed changes.
    text = raw.decode("latin-1")
    clean = _scrub_text(text)
    return raw if clean == text else clean.encode("latin-1", "replace")


# An exception's text attribute may be a whole response body (`JSONDecodeError.doc`):
# past this size it keeps only its scrubbed beginning, which is all a traceback shows.
_KEPT_IN_EXCEPTIONS = 65536


def _scrub_text(value: str) -> str:
    return _scrub_kept(value, _KEPT_IN_EXCEPTIONS)


def _scrub_arg(value: object) -> object:
    if isinstance(value, str):
        return _scrub_text(value)
    return _scrub_bytes(value) if isinstance(value, bytes) else value


def _scrub_exception(exc: BaseException) -> None:
    args = tuple(_scrub_arg(a) for a in exc.args)
    if args != exc.args:
        exc.args = args
    if isinstance(exc, UnicodeDecodeError):
        # `.object` is every byte it was decoding, a whole body, and not in `vars()`.
        exc.object = _scrub_bytes(exc.object)
    for name, value in list(vars(exc).items()):
        if isinstance(value, str):
            # `json.JSONDecodeError.doc` is the whole body it could not parse.
            if (clean := _scrub_text(value)) != value:
                setattr(exc, name, clean)
        elif isinstance(value, list):  # `__notes__`
            value[:] = [_scrub_text(v) if isinstance(v, str) else v for v in value]
        else:
            _scrub_headers(value)


def scrub_exception_chain(exc: BaseException) -> None:
    """Scrub, in place, `exc` and every exception behind it (`__cause__`, `__context__`):
    their args, their text attributes, and the headers of a request they keep.

    An error built from another one chains it, and traceback printers and error reporters
    (Sentry) show the chain and its attributes, so they must hold no key either."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        link = todo.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        _scrub_exception(link)
        todo += (link.__cause__, link.__context__)
