"""claude-code, gemini-cli and kilocli end to end, against fake `claude`, `gemini` and
`kilo` programs (tests/providers/fake_cli.py) that print what the real ones print.

Every test checks that no process it started survives it: each fake records its pid
(and its child's, when it starts one) and the fixture waits for them to be gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from construct import (
    ChatMessage,
    ChatRequest,
    ProviderRuntimeOptions,
    ToolSpec,
    create_provider,
    create_provider_with_options,
    list_providers,
    load_config,
)
from construct.errors import (
    AuthError,
    ConfigError,
    InvalidRequest,
    InvalidResponse,
    ProviderCapabilityError,
    StreamInterrupted,
    TransientError,
)
from construct.providers.cli import CliProvider
from construct.transport import subprocess as command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

FAKE = Path(__file__).with_name("fake_cli.py")
TOOLS = {"claude-code": "claude", "gemini-cli": "gemini", "kilocli": "kilo"}
PATH_VARS = {
    "claude-code": "CLAUDE_CODE_PATH",
    "gemini-cli": "GEMINI_CLI_PATH",
    "kilocli": "KILO_CLI_PATH",
}
HI = ChatRequest((ChatMessage.user("Say hello."),))


def _gone(pid: int) -> bool:
    """Whether `pid` has ended; a zombie nobody reaped yet (a grandchild, now init's) counts."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return True
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _all_gone(pids: list[int], within_s: float = 2.0) -> bool:
    end = time.monotonic() + within_s
    while not all(_gone(pid) for pid in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


class Fakes:
    """The fake programs of one test: where they are, what they were run with."""

    def __init__(self, bin_dir: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = bin_dir
        self.log = log_dir
        self._monkeypatch = monkeypatch

    def mode(self, mode: str, *, child: bool = False) -> None:
        self._monkeypatch.setenv("FAKE_CLI_MODE", mode)
        if child:
            self._monkeypatch.setenv("FAKE_CLI_CHILD", "1")

    def records(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.log.glob("*.json"))]

    def last(self) -> dict:
        records = self.records()
        assert records, "the fake program never ran"
        return max(records, key=lambda r: os.stat(self.log / f"{r['pid']}.json").st_mtime_ns)

    def pids(self) -> list[int]:
        return [pid for r in self.records() for pid in (r["pid"], r["child"]) if pid]


def write_fakes(bin_dir: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    for program in TOOLS.values():
        path = bin_dir / program
        path.write_text(
            f"#!{sys.executable}\nimport runpy\n"
            f"runpy.run_path({str(FAKE)!r}, {{'PROGRAM': {program!r}}}, '__main__')\n"
        )
        path.chmod(0o755)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    bin_dir, log_dir = tmp_path / "bin", tmp_path / "log"
    write_fakes(bin_dir)
    log_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_CLI_LOG", str(log_dir))
    for var in PATH_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("FAKE_CLI_CHILD", raising=False)
    fakes = Fakes(bin_dir, log_dir, monkeypatch)
    fakes.mode("ok")
    yield fakes
    pids = fakes.pids()
    assert _all_gone(pids), f"a process outlived its test: {[p for p in pids if not _gone(p)]}"


def provider(name: str, **options: object) -> CliProvider:
    built = create_provider_with_options(name, None, ProviderRuntimeOptions(**options))
    assert isinstance(built, CliProvider)
    return built


# -- the answer, sync and async, streamed or not -------------------------------------------

EXPECTED_USAGE = {
    # Claude: input counts the cached tokens too (12 + 100 written + 2000 read).
    "claude-code": (2112, 4, 2000),
    "gemini-cli": (30, 10, 20),
    "kilocli": (36, 10, 5),
}
# Kilo prints each part of the answer when it is finished: a plain answer is one part.
DELTAS = {
    "claude-code": ["Hello", ", ", "world."],
    "gemini-cli": ["Hello", ", ", "world."],
    "kilocli": ["Hello, world."],
}
EXPECTED_MODEL = {
    "claude-code": "claude-sonnet-4-5",
    "gemini-cli": "gemini-2.5-pro",
    "kilocli": None,
}


@pytest.mark.parametrize("name", list(TOOLS))
def test_chat_returns_the_text_usage_and_model(fakes: Fakes, name: str) -> None:
    response = provider(name).chat(HI)
    assert response.text == "Hello, world."
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (
        EXPECTED_USAGE[name]
    )
    assert response.model == EXPECTED_MODEL[name]
    assert response.provider == name
    assert response.stop_reason == "end_turn"
    assert fakes.last()["stdin"] == "Say hello."


@pytest.mark.parametrize("name", list(TOOLS))
def test_stream_yields_the_deltas_then_the_final_response(fakes: Fakes, name: str) -> None:
    events = list(provider(name).stream(HI))
    assert [e.delta for e in events[:-1]] == DELTAS[name]
    assert all(e.type == "text_delta" for e in events[:-1])
    final = events[-1]
    assert final.type == "final" and final.response is not None
    assert final.response.text == "Hello, world."
    assert final.response.usage is not None


@pytest.mark.parametrize("name", list(TOOLS))
def test_achat_and_astream_give_the_same(fakes: Fakes, name: str) -> None:
    p = provider(name)

    async def run() -> tuple[str, list[str]]:
        response = await p.achat(HI)
        deltas = [e.delta async for e in p.astream(HI) if e.type == "text_delta"]
        return response.text or "", deltas

    text, deltas = asyncio.run(run())
    assert text == "Hello, world."
    assert deltas == DELTAS[name]


def test_claude_code_reports_the_cost(fakes: Fakes) -> None:
    assert provider("claude-code").chat(HI).cost_usd == pytest.approx(0.0123)


def test_the_kilo_alias_runs_kilo(fakes: Fakes) -> None:
    assert create_provider("kilo").chat(HI).text == "Hello, world."
    assert fakes.last()["tool"] == "kilo"


def test_the_rows_are_ready_and_take_no_tools() -> None:
    rows = {p.name: p for p in list_providers()}
    for name in TOOLS:
        assert rows[name].available
        caps = create_provider(name).capabilities()
        assert not caps.native_tool_calling and not caps.vision and caps.streaming


# -- what is run -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TOOLS))
def test_the_prompt_goes_on_stdin_never_in_argv(fakes: Fakes, name: str) -> None:
    fakes.mode("echo")
    secret_prompt = "the prompt, with 'quotes' and $(no shell) ; rm -rf /"
    request = ChatRequest((ChatMessage.system("Be terse."), ChatMessage.user(secret_prompt)))
    text = provider(name).chat(request).text or ""
    record = fakes.last()
    assert secret_prompt in record["stdin"] and secret_prompt in text
    assert not any(secret_prompt in arg for arg in record["argv"])


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        (
            "claude-code",
            [
                "--print",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--tools",
                "",
                "--strict-mcp-config",
                "--model",
                "sonnet",
                "--append-system-prompt",
                "Be terse.",
            ],
        ),
        ("gemini-cli", ["--output-format", "stream-json", "--model", "sonnet"]),
        ("kilocli", ["run", "--format", "json", "--agent", "ask", "--model", "sonnet"]),
    ],
)
def test_the_default_argv_asks_for_a_completion(fakes: Fakes, name: str, argv: list[str]) -> None:
    request = ChatRequest((ChatMessage.system("Be terse."), ChatMessage.user("Hi")))
    provider(name).chat(request, "sonnet")
    record = fakes.last()
    assert record["argv"] == argv
    if name != "claude-code":
        assert record["stdin"] == "Be terse.\n\nHi"


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("claude-code", ["--dangerously-skip-permissions"]),
        ("gemini-cli", ["--approval-mode", "yolo"]),
        ("kilocli", ["--auto"]),
    ],
)
def test_permission_prompts_are_skipped_only_in_agent_mode(
    fakes: Fakes, name: str, flags: list[str]
) -> None:
    provider(name).chat(HI)
    default = fakes.last()["argv"]
    assert "--dangerously-skip-permissions" not in default
    assert not any(flag in default for flag in ("--yolo", "yolo", "--auto", "-y"))
    for path in fakes.log.glob("*.json"):
        path.unlink()
    provider(name, cli_agent_mode=True).chat(HI)
    agent = fakes.last()["argv"]
    assert all(flag in agent for flag in flags)
    assert "--tools" not in agent and "ask" not in agent


@pytest.mark.parametrize("model", [None, "", "  ", "default", "Default"])
def test_no_model_or_default_is_not_forwarded(fakes: Fakes, model: str | None) -> None:
    provider("gemini-cli").chat(HI, model)
    assert "--model" not in fakes.last()["argv"]


def test_a_conversation_is_sent_whole(fakes: Fakes) -> None:
    fakes.mode("echo")
    history = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    provider("claude-code").chat_with_history(history)
    record = fakes.last()
    assert record["stdin"] == (
        "[user]\nMy name is Ada.\n\n[assistant]\nHello Ada.\n\n[user]\nWhat is my name?"
        "\n\n[assistant]"
    )
    assert record["argv"][-2:] == ["--append-system-prompt", "Be terse."]


# -- finding the program ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TOOLS))
def test_a_missing_program_says_what_to_install_and_which_variable(
    fakes: Fakes, name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    p = provider(name)  # builds without the program (K2)
    with pytest.raises(ConfigError) as caught:
        p.chat(HI)
    message = str(caught.value)
    assert f"`{TOOLS[name]}`" in message and "not found on PATH" in message
    assert PATH_VARS[name] in message and "install" in message.lower()
    with pytest.raises(ConfigError):
        p.stream(HI)  # at the call, not at the first next()
    with pytest.raises(ConfigError):
        p.warmup()


@pytest.mark.parametrize("name", list(TOOLS))
def test_the_path_variable_points_at_the_program(
    fakes: Fakes, name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_fakes(elsewhere)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv(PATH_VARS[name], str(elsewhere / TOOLS[name]))
    assert provider(name).chat(HI).text == "Hello, world."


def test_a_blank_path_variable_is_ignored(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_PATH", "   ")
    assert provider("claude-code").chat(HI).text == "Hello, world."


def test_a_path_variable_naming_no_program_is_a_config_error(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KILO_CLI_PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match=r"KILO_CLI_PATH is set to .*not an executable"):
        provider("kilocli").chat(HI)


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gemini-cli", "kilocli"])
def test_a_non_zero_exit_names_the_status_and_the_stderr_tail(fakes: Fakes, name: str) -> None:
    fakes.mode("fail")
    with pytest.raises(TransientError) as caught:
        provider(name).chat(HI)
    message = str(caught.value)
    assert "exited with status 1" in message
    assert "stderr: debug: starting | error: the request failed" in message
    assert "sk-ant-api03" not in message and "[REDACTED]" in message


def test_claude_code_signed_out_is_an_auth_error_saying_how_to_sign_in(fakes: Fakes) -> None:
    fakes.mode("fail")
    with pytest.raises(AuthError) as caught:
        provider("claude-code").chat(HI)
    message = str(caught.value)
    assert "Invalid API key" in message and "exited with status 1" in message
    assert "/login" in message


@pytest.mark.parametrize("name", list(TOOLS))
def test_a_hung_command_is_stopped_at_the_timeout(fakes: Fakes, name: str) -> None:
    fakes.mode("hang", child=True)
    start = time.monotonic()
    with pytest.raises(TransientError, match=r"provider_timeout_secs \(0.3 s\)"):
        provider(name, provider_timeout_secs=0.3).chat(HI)
    assert time.monotonic() - start < 1.5
    assert _all_gone(fakes.pids(), within_s=0.5)


def test_a_stream_that_goes_quiet_is_stopped_at_the_idle_limit(fakes: Fakes) -> None:
    fakes.mode("hang")
    with pytest.raises(TransientError, match="first event within provider_timeout_secs"):
        list(provider("claude-code", provider_timeout_secs=0.3).stream(HI))


def test_a_command_that_ignores_sigterm_is_killed(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "_GRACE_S", 0.2)
    fakes.mode("stubborn", child=True)
    with pytest.raises(TransientError):
        provider("gemini-cli", provider_timeout_secs=0.2).chat(HI)
    assert _all_gone(fakes.pids(), within_s=0.5)


@pytest.mark.parametrize("name", list(TOOLS))
def test_a_failure_after_text_is_a_stream_interruption(fakes: Fakes, name: str) -> None:
    fakes.mode("midway")
    seen: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        for event in provider(name).stream(HI):
            seen.append(event.delta)
    assert seen == ["Partial "]
    assert caught.value.partial_text == "Partial "
    assert "exited with status 3" in str(caught.value)
    assert "connection reset" in str(caught.value)


def test_output_that_ends_before_the_result_is_an_invalid_response(fakes: Fakes) -> None:
    fakes.mode("half")
    with pytest.raises(InvalidResponse, match="ended before its result"):
        provider("claude-code").chat(HI)


def test_an_unreadable_line_is_an_invalid_response(fakes: Fakes) -> None:
    fakes.mode("broken")
    with pytest.raises(InvalidResponse, match="not JSON"):
        provider("kilocli").chat(HI)


def test_plain_text_output_is_read_as_the_answer(fakes: Fakes) -> None:
    fakes.mode("text")
    assert provider("gemini-cli").chat(HI).text == "Plain answer,\nin two lines."


@pytest.mark.parametrize("name", list(TOOLS))
def test_output_larger_than_a_pipe_buffer_arrives_whole(fakes: Fakes, name: str) -> None:
    fakes.mode("big")
    text = provider(name).chat(HI).text or ""
    assert len(text) == 1024 * 1024 - 1  # the last newline is trimmed


def test_output_over_max_response_mb_is_refused(fakes: Fakes) -> None:
    fakes.mode("big", child=True)
    with pytest.raises(InvalidResponse, match="max_response_mb"):
        provider("kilocli", max_response_mb=0.5).chat(HI)


# -- what is refused before anything runs -------------------------------------------------------


def test_tools_and_images_are_refused(fakes: Fakes) -> None:
    p = provider("claude-code")
    with pytest.raises(ProviderCapabilityError, match="takes no tools"):
        p.chat(ChatRequest((ChatMessage.user("hi"),), tools=(ToolSpec("f"),)))
    with pytest.raises(ProviderCapabilityError, match="takes no images"):
        p.chat(ChatRequest((ChatMessage.user("hi", images=["data:image/png;base64,AA=="]),)))
    assert fakes.records() == []


@pytest.mark.parametrize("name", ["gemini-cli", "kilocli"])
def test_gemini_and_kilo_take_only_their_default_temperatures(fakes: Fakes, name: str) -> None:
    p = provider(name)
    display = p.display_name
    with pytest.raises(
        InvalidRequest,
        match=rf"temperature unsupported by {display}: 0\.2\. Supported values: 0\.7 or 1\.0\.",
    ):
        p.chat(HI, temperature=0.2)
    assert p.chat(HI, temperature=0.7).text == "Hello, world."
    assert p.chat(HI, temperature=1.0).text == "Hello, world."


def test_claude_code_takes_any_temperature_and_sends_none(fakes: Fakes) -> None:
    provider("claude-code").chat(HI, temperature=0.2)
    assert not any("temp" in arg for arg in fakes.last()["argv"])


# -- an abandoned stream, a cancelled task --------------------------------------------------------


def test_breaking_out_of_a_stream_stops_the_command(fakes: Fakes) -> None:
    fakes.mode("slow", child=True)
    stream = provider("claude-code").stream(HI)
    for event in stream:
        assert event.delta == "tick 0 "
        break
    stream.close()  # what a for loop's end does once the generator is dropped
    assert _all_gone(fakes.pids(), within_s=1.5)


def test_a_stream_never_iterated_runs_nothing(fakes: Fakes) -> None:
    provider("kilocli").stream(HI)
    assert fakes.records() == []


def test_cancelling_the_task_stops_the_command(fakes: Fakes) -> None:
    fakes.mode("slow", child=True)
    p = provider("gemini-cli")
    started = asyncio.Event()

    async def consume() -> None:
        async for _event in p.astream(HI):
            started.set()

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert _all_gone(fakes.pids(), within_s=1.5)


def test_an_async_hang_is_stopped_at_the_timeout(fakes: Fakes) -> None:
    fakes.mode("hang", child=True)
    p = provider("kilocli", provider_timeout_secs=0.3)
    with pytest.raises(TransientError, match="provider_timeout_secs"):
        asyncio.run(p.achat(HI))


def test_repr_says_the_program_and_the_mode() -> None:
    assert repr(provider("claude-code")) == "<CliProvider claude-code claude>"
    agent = provider("claude-code", cli_agent_mode=True)
    assert repr(agent) == "<CliProvider claude-code claude agent_mode>"


# -- the doc pages --------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "providers"


def doc_blocks(name: str) -> list[tuple[str, str]]:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)


@pytest.mark.parametrize("name", list(TOOLS))
def test_the_doc_page_runs_and_shows_what_is_run(
    fakes: Fakes, name: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    found = doc_blocks(name)
    assert [kind for kind, _ in found] == ["toml", "sh", "python", "sh", "python", "text"]
    toml, argv, agent_code, agent_argv, stream_code, printed = (code for _, code in found)

    config_path = tmp_path / "config.toml"
    config_path.write_text(toml, encoding="utf-8")
    config = load_config(config_path, environ={})
    assert config.default_provider == name
    assert isinstance(create_provider(config.default_provider), CliProvider)

    shown = shlex.split(argv)
    assert shown[0] == TOOLS[name]
    exec(compile(stream_code, f"{name}.md", "exec"), scope := {})
    assert capsys.readouterr().out == printed
    assert fakes.last()["argv"] == shown[1:]
    assert shown[shown.index("--model") + 1] == config.default_model

    exec(compile(agent_code, f"{name}.md", "exec"), agent_scope := {})
    agent = agent_scope["agent"]
    assert agent.agent_mode
    agent.chat(scope["request"], config.default_model)
    assert fakes.last()["argv"] == shlex.split(agent_argv)[1:]


def test_cli_agent_mode_in_config_reaches_the_default_provider_only(tmp_path) -> None:
    from construct.config import load_config
    from construct.factory import create_provider_from_config

    path = tmp_path / "config.toml"
    path.write_text(
        'default_provider = "claude-code"\ncli_agent_mode = true\n'
        '[reliability]\nfallback_providers = ["kilocli"]\n',
        encoding="utf-8",
    )
    chain = create_provider_from_config(load_config(path, environ={}))
    (_, primary), (_, fallback) = chain.providers
    assert primary.agent_mode is True
    assert fallback.agent_mode is False
    path.write_text('default_provider = "claude-code"\n', encoding="utf-8")
    ((_, plain),) = create_provider_from_config(load_config(path, environ={})).providers
    assert plain.agent_mode is False
