"""Every `$ construct ...` example of docs/cli.md, run in a shell and compared with what the
doc shows, so the doc cannot drift from the CLI.

Each fenced block runs in a scratch home (shown as `/home/me`), its commands in order, in
an 80-column terminal. A `VAR=...` in a command becomes a test key for VAR (`KEYS`);
`SETUPS` writes the files and sets the variables a command's comment describes. HTTP is
answered by respx inside the CLI process (tests/cli/doc_shim.py): nothing is sent.

In the doc's output, a line `...` stands for any number of lines, a line ending in ` ...`
for any line that begins with what comes before it, and JSON is compared as data.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.remote.test_serve_roundtrip import V3_SCRIPT

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
SHOWN_HOME = "/home/me"
# Keys that mask to what the doc shows (`gsk…1234`, `sk-…ghij`, `sk-…0a1b`).
KEYS = {
    "GROQ_API_KEY": "gsk_docs_example_key_1234",
    "DASHSCOPE_API_KEY": "sk-docs-example-abcdefghij",
    "OPENROUTER_API_KEY": "sk-or-v1-docs-example-0a1b",
    "XAI_API_KEY": "xai-docs-example-key-5678",
}
GROQ = "https://api.groq.com/openai/v1/chat/completions"
OPENROUTER = "https://openrouter.ai/api/v1/chat/completions"
LOCAL = "http://localhost:8000/v1/chat/completions"


@dataclass
class Setup:
    env: dict[str, str] = field(default_factory=dict)
    replies: dict[str, dict] = field(default_factory=dict)
    cwd: str = "."
    files: dict[str, str] = field(default_factory=dict)
    # "METHOD URL" -> the answers of its successive requests (doc_shim's DOC_ROUTES).
    routes: dict[str, list[dict]] = field(default_factory=dict)


CHECK_CONFIG = """\
default_provider = "openrouter"
default_model = "anthropic/claude-sonnet-4"

[reliability]
fallback_providers = ["groq", "deepseek"]

[reliability.model_fallbacks]
"anthropic/claude-sonnet-4" = ["anthropic/claude-3.5-haiku"]

[[model_routes]]
hint = "reasoning"
provider = "openrouter"
model = "deepseek/deepseek-r1"
"""

BAD_CONFIG = """\
defualt_model = "x"

[reliability]
api_keys = ["${XAI_KEY_2}"]
fallback_providers = ["groq", "deepsek"]
"""

FALLBACK_CONFIG = """\
default_provider = "openrouter"
default_model = "anthropic/claude-sonnet-4"

[reliability]
provider_retries = 0
provider_backoff_ms = 0
fallback_providers = ["groq"]

[reliability.model_fallbacks]
"anthropic/claude-sonnet-4" = ["llama-3.3-70b-versatile"]
"""

REVOKED = (
    'GROQ_API_KEY=... construct chat -p groq -m llama-3.3-70b-versatile "hi"   # a revoked key'
)
MODELS_LIST = (
    'construct models list          # default_provider = "process:tiny", a fallback without its key'
)
COPILOT_CHAT = "https://api.individual.githubcopilot.com/chat/completions"
# GitHub's answers to `construct auth login copilot`: the device code, one poll still
# pending (GitHub answers it with 200), the token, the account, the Copilot token.
GITHUB_SIGN_IN = {
    "POST https://github.com/login/device/code": [
        {
            "body": {
                "device_code": "3584d83530557fdd1f46af8289938c8ef79f9dc5",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://github.com/login/device",
                "expires_in": 900,
                "interval": 1,
            }
        }
    ],
    "POST https://github.com/login/oauth/access_token": [
        {"body": {"access_token": "ghu_docs0example0github0token0123", "scope": "read:user"}}
    ],
    "GET https://api.github.com/user": [{"body": {"login": "octocat"}}],
    "GET https://api.github.com/copilot_internal/v2/token": [
        {
            "body": {
                "token": "tid=docs;exp=1;sku=copilot_for_business_seat;8kp=1:0123456789abcdef",
                "expires_at": 1,
                "refresh_in": 1500,
                "endpoints": {"api": "https://api.individual.githubcopilot.com"},
            }
        }
    ],
}
SETUPS: dict[str, Setup] = {
    "construct providers list          # GROQ_API_KEY=... in /home/me/app/.env": Setup(
        files={"app/.env": f"GROQ_API_KEY={KEYS['GROQ_API_KEY']}\n"}, cwd="app"
    ),
    "construct providers list          # config.toml has two problems": Setup(
        files={"config.toml": 'default_provider = "groqq"\nprovider_retries = 2\n'}
    ),
    'construct chat -p groq -m llama-3.3-70b-versatile "Say hello in French"': Setup(
        env={"GROQ_API_KEY": KEYS["GROQ_API_KEY"]},
        replies={GROQ: {"llama-3.3-70b-versatile": {"text": "Bonjour !"}}},
    ),
    'echo "Summarise: $(cat notes.txt)" | construct chat -m anthropic/claude-sonnet-4 -': Setup(
        env={"OPENROUTER_API_KEY": KEYS["OPENROUTER_API_KEY"]},
        files={"notes.txt": "Fix the login bug. Write the release notes. Book the venue.\n"},
        replies={
            OPENROUTER: {
                "anthropic/claude-sonnet-4": {
                    "text": "Three tasks: fix the login bug, write the release notes, "
                    "book the venue."
                }
            }
        },
    ),
    'construct chat -p custom:http://localhost:8000/v1 -m qwen2.5-7b --no-stream "2+2?"': Setup(
        replies={LOCAL: {"qwen2.5-7b": {"text": "4"}}}
    ),
    'construct chat "hi"                    # default_provider is down, groq is a fallback': Setup(
        env={"GROQ_API_KEY": KEYS["GROQ_API_KEY"], "OPENROUTER_API_KEY": "sk-or-v1-doc-0000"},
        files={"config.toml": FALLBACK_CONFIG},
        replies={GROQ: {"llama-3.3-70b-versatile": {"text": "Hello! How can I help you today?"}}},
    ),
    REVOKED: Setup(
        replies={
            GROQ: {
                "*": {
                    "status": 401,
                    "body": {
                        "error": {
                            "message": "Invalid API Key",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    },
                }
            }
        }
    ),
    "construct config check": Setup(
        env={"OPENROUTER_API_KEY": KEYS["OPENROUTER_API_KEY"]},
        files={".construct/config.toml": CHECK_CONFIG},
    ),
    "construct config check          # the key is in a .env instead": Setup(
        files={".construct/.env": f"OPENROUTER_API_KEY={KEYS['OPENROUTER_API_KEY']}\n"}
    ),
    "construct config check --config bad.toml": Setup(files={"bad.toml": BAD_CONFIG}),
    "construct config check          # a key of another vendor": Setup(
        files={
            "config.toml": 'default_provider = "xai"\ndefault_model = "grok-4"\n'
            'api_key = "sk-proj-docs-example-mnop"\n'
        }
    ),
    "construct config check          # no config file anywhere": Setup(),
    "construct auth login copilot": Setup(routes=GITHUB_SIGN_IN),
    'construct chat -p copilot -m gpt-4.1 "Say hello in French"': Setup(
        replies={COPILOT_CHAT: {"gpt-4.1": {"text": "Bonjour !"}}}
    ),
    MODELS_LIST: (
        Setup(
            files={
                "provider.py": V3_SCRIPT,
                "config.toml": 'default_provider = "process:tiny"\ndefault_model = "tiny"\n'
                '[reliability]\nfallback_providers = ["groq"]\n[processes.tiny]\n'
                f'command = [{json.dumps(sys.executable)}, "provider.py", "ok"]\n',
            }
        )
    ),
}


@dataclass
class Command:
    line: str  # as the doc shows it, without "$ "
    expected: list[str]


@dataclass
class Block:
    where: str
    commands: list[Command]


_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)


def doc_blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        lines = match.group(2).splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        commands: list[Command] = []
        for line in lines:
            if line.startswith("$ "):
                commands.append(Command(line[2:], []))
            else:
                commands[-1].expected.append(line)
        for c in commands:
            while c.expected and not c.expected[-1].strip():
                c.expected.pop()
        where = f"docs/cli.md:{text.count(chr(10), 0, match.start()) + 1}"
        blocks.append(Block(where, commands))
    return blocks


def _line_matches(doc: str, real: str) -> bool:
    if doc.endswith(" ...") and doc.strip() != "...":
        return real.startswith(doc[:-4])
    return doc == real


def output_matches(doc: list[str], real: list[str]) -> bool:
    """Whether `real` is what `doc` shows, `...` lines standing for any run of lines."""
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(doc):
                result = j == len(real)
            elif doc[i].strip() == "...":
                result = any(at(i + 1, k) for k in range(j, len(real) + 1))
            else:
                result = j < len(real) and _line_matches(doc[i], real[j]) and at(i + 1, j + 1)
            memo[(i, j)] = result
        return memo[(i, j)]

    return at(0, 0)


def _as_json(lines: list[str]) -> object:
    try:
        return json.loads("\n".join(lines))
    except ValueError:
        return None


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "construct"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.cli.doc_shim "$@"\n')
    script.chmod(0o755)
    return bin_dir


def run(command: Command, home: Path, shim: Path) -> list[str]:
    setup = SETUPS.get(command.line, Setup())
    for name, content in setup.files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith(("_API_KEY", "_TOKEN")) or k.startswith("CONSTRUCT_"))
    }
    env.update(
        HOME=str(home),
        NO_COLOR="1",
        COLUMNS="80",
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=str(ROOT),
        PATH=f"{shim}{os.pathsep}{env.get('PATH', '')}",
        DOC_REPLIES=json.dumps(setup.replies),
        DOC_ROUTES=json.dumps(setup.routes),
        **setup.env,
    )
    line = re.sub(r"\b([A-Z_]+)=\.\.\.", lambda m: f"{m.group(1)}={KEYS[m.group(1)]}", command.line)
    proc = subprocess.run(
        ["bash", "-c", line],
        cwd=home / setup.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    out = proc.stdout.replace(str(home), SHOWN_HOME)
    return [line.rstrip() for line in out.rstrip("\n").splitlines()]


BLOCKS = doc_blocks()


def test_the_doc_has_examples_and_every_setup_is_used() -> None:
    lines = {c.line for b in BLOCKS for c in b.commands}
    assert len(lines) >= 15
    assert set(SETUPS) <= lines, sorted(set(SETUPS) - lines)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_the_doc_shows_what_the_cli_prints(block: Block, tmp_path: Path, shim: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for command in block.commands:
        real = run(command, home, shim)
        expected = _as_json(command.expected)
        if expected is not None:
            assert _as_json(real) == expected, f"{block.where}: $ {command.line}"
            continue
        assert output_matches(command.expected, real), (
            f"{block.where}: $ {command.line}\n--- the doc shows:\n"
            + "\n".join(command.expected)
            + "\n--- the CLI printed:\n"
            + "\n".join(real)
        )


def test_the_command_summary_names_every_command() -> None:
    from construct.cli.main import build_parser

    text = DOC.read_text(encoding="utf-8")
    summary = _FENCE.search(text).group(2)  # the first block of the page
    parser = build_parser()

    def subcommands(p: argparse.ArgumentParser) -> list[argparse._SubParsersAction]:
        return [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]

    (commands,) = subcommands(parser)
    for name, sub in commands.choices.items():
        nested = subcommands(sub)
        names = [f"{name} {child}" for child in nested[0].choices] if nested else [name]
        for full in names:
            assert re.search(rf"^  {full}\b", summary, re.M), f"summary misses {full!r}"


def test_the_matcher_needs_the_lines_it_shows() -> None:
    assert output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "...", "d"], ["a", "d"])
    assert not output_matches(["a", "d"], ["a", "b", "d"])
    assert not output_matches(["a", "...", "d"], ["a", "b", "e"])
    assert output_matches(["x: one ..."], ["x: one two three"])
    assert not output_matches(["x: one ..."], ["x: two"])
    assert not output_matches(["a"], ["a", "b"])
