"""What the environment does to a parsed config: `${VAR}` interpolation (F3), overrides (F4).

`${NAME}` or `${NAME:-default}` in any string value is replaced by the variable. Then each
`CONSTRUCT_*` variable of `ENV_OVERRIDES` that is set and not blank replaces its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .problems import Loc, Problems

__all__ = ["ENV_OVERRIDES", "apply_environment", "interpolate"]

# F4: applied after the file, non-blank values only.
ENV_OVERRIDES = (
    ("CONSTRUCT_PROVIDER", "default_provider"),
    ("CONSTRUCT_MODEL", "default_model"),
    ("CONSTRUCT_API_KEY", "api_key"),
    ("CONSTRUCT_API_URL", "api_url"),
)

# `${NAME}` or `${NAME:-default}`; the default cannot contain `}`. There is no escape:
# anything that does not match (`${}`, `${1X}`, an unclosed `${`) stays as written.
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def apply_environment(
    data: dict[str, Any], env: Mapping[str, str], problems: Problems
) -> tuple[dict[str, Any], dict[Loc, str]]:
    """(`data` interpolated and overridden, the variable each overridden key came from)."""
    overrides = {(field,): var for var, field in ENV_OVERRIDES if env.get(var, "").strip()}
    if ("api_key",) in overrides and "api_key" not in data:
        # K1 puts CONSTRUCT_API_KEY after the provider's own variables; made the
        # config's explicit key it would beat them. It overrides a key the file sets.
        del overrides[("api_key",)]
    for (field,) in overrides:
        data.pop(field, None)
    data = interpolate(data, (), env, problems)
    for (field,), var in overrides.items():
        data[field] = env[var].strip()
    return data, overrides


def interpolate(value: Any, loc: Loc, env: Mapping[str, str], problems: Problems) -> Any:
    """`value` with `${VAR}` replaced in every string; an unset variable without a default
    is a problem at `loc` and stays as written."""
    if isinstance(value, dict):
        return {k: interpolate(v, (*loc, k), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, (*loc, i), env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        # As in the shell: `:-` also replaces a variable that is set but empty.
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        problems.add(
            loc,
            f"environment variable {name} is not set; set it (in the environment or a .env "
            f"file beside the config) or give a default: ${{{name}:-default}}",
        )
        return match.group(0)

    return _VAR.sub(substitute, value)
