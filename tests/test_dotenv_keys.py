"""Provider keys from `.env` files: the one beside the config, then the working directory's.

The real environment wins over both, the config's `.env` over the working directory's,
and `os.environ` is never written. Every exchange is mocked with respx.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import respx

from construct import create_provider_from_config, load_config
from construct.config import check_config
from construct.errors import ConfigError
from construct.types import ChatMessage, ChatRequest

GROQ_URL = "https://api.groq.com/openai/v1/chat/completions"
DOTENV_KEY = "gsk_from_dotenv_beside_0001"
CWD_KEY = "gsk_from_dotenv_in_cwd_0002"
ENV_KEY = "gsk_from_environment_0003"
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "llama-3.3-70b-versatile",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}
HELLO = ChatRequest((ChatMessage.user("hi"),))


@pytest.fixture(autouse=True)
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scratch home and working directory: no developer's config or .env is read."""
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "work")


def write_config(folder: Path, text: str = 'default_provider = "groq"\n') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text('default_model = "llama-3.3-70b-versatile"\n' + text, "utf-8")
    return path


def sent_key(config_path: Path | None) -> str:
    """The Authorization header of one call made by the provider the config describes."""
    config = load_config(config_path)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(GROQ_URL).mock(return_value=httpx.Response(200, json=REPLY))
        assert create_provider_from_config(config).chat(HELLO).text == "ok"
    return route.calls.last.request.headers["Authorization"]


def test_dotenv_beside_the_config_supplies_the_key(tmp_path):
    path = write_config(tmp_path / "app")
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    assert sent_key(path) == f"Bearer {DOTENV_KEY}"
    # A library does not change the process environment.
    assert "GROQ_API_KEY" not in os.environ


def test_the_real_environment_wins_over_dotenv(tmp_path, monkeypatch):
    path = write_config(tmp_path / "app")
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    assert sent_key(path) == f"Bearer {DOTENV_KEY}"
    monkeypatch.setenv("GROQ_API_KEY", ENV_KEY)
    assert sent_key(path) == f"Bearer {ENV_KEY}"


def test_the_environment_is_read_when_the_provider_is_built(tmp_path, monkeypatch):
    path = write_config(tmp_path / "app")
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    config = load_config(path)
    keys = []
    for _ in range(2):
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(GROQ_URL).mock(return_value=httpx.Response(200, json=REPLY))
            create_provider_from_config(config).chat(HELLO)
        keys.append(route.calls.last.request.headers["Authorization"])
        # Set after loading: still the real environment, so it wins from now on.
        monkeypatch.setenv("GROQ_API_KEY", ENV_KEY)
    assert keys == [f"Bearer {DOTENV_KEY}", f"Bearer {ENV_KEY}"]


def test_a_dotenv_in_the_working_directory_supplies_the_key(tmp_path):
    Path(".env").write_text(f"GROQ_API_KEY={CWD_KEY}\n", "utf-8")
    # The config lives elsewhere, with no .env of its own.
    assert sent_key(write_config(tmp_path / "app")) == f"Bearer {CWD_KEY}"


def test_a_dotenv_in_the_working_directory_serves_without_a_config_file(monkeypatch):
    Path(".env").write_text(f"GROQ_API_KEY={CWD_KEY}\n", "utf-8")
    monkeypatch.setenv("CONSTRUCT_PROVIDER", "groq")
    monkeypatch.setenv("CONSTRUCT_MODEL", "llama-3.3-70b-versatile")
    assert sent_key(None) == f"Bearer {CWD_KEY}"


def test_the_configs_dotenv_wins_over_the_working_directorys(tmp_path):
    path = write_config(tmp_path / "app")
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    Path(".env").write_text(f"GROQ_API_KEY={CWD_KEY}\n", "utf-8")
    assert sent_key(path) == f"Bearer {DOTENV_KEY}"


def test_a_blank_variable_in_the_environment_does_not_hide_the_dotenv_key(tmp_path, monkeypatch):
    # K1 reads non-blank variables only; an exported empty one is no key.
    path = write_config(tmp_path / "app")
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    monkeypatch.setenv("GROQ_API_KEY", "  ")
    assert sent_key(path) == f"Bearer {DOTENV_KEY}"


def test_profile_and_generic_key_variables_come_from_dotenv_too(tmp_path):
    # A fallback with an auth profile reads GROQ_API_KEY_WORK; CONSTRUCT_API_KEY is K1's last.
    path = write_config(
        tmp_path / "app",
        'default_provider = "mistral"\n[reliability]\nfallback_providers = ["groq:work"]\n'
        "provider_retries = 0\n",
    )
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY_WORK={DOTENV_KEY}\n", "utf-8")
    Path(".env").write_text("CONSTRUCT_API_KEY=generic-key-from-cwd-0004\n", "utf-8")
    config = load_config(path)
    with respx.mock(assert_all_called=True) as mock:
        mistral = mock.post("https://api.mistral.ai/v1/chat/completions").mock(
            return_value=httpx.Response(503, json={"error": {"message": "busy"}})
        )
        groq = mock.post(GROQ_URL).mock(return_value=httpx.Response(200, json=REPLY))
        assert create_provider_from_config(config).chat(HELLO).text == "ok"
    assert mistral.calls.last.request.headers["Authorization"] == (
        "Bearer generic-key-from-cwd-0004"
    )
    assert groq.calls.last.request.headers["Authorization"] == f"Bearer {DOTENV_KEY}"


def test_the_config_shows_where_keys_come_from_and_never_a_value(tmp_path):
    path = write_config(tmp_path / "app")
    dotenv = tmp_path / "app" / ".env"
    dotenv.write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    config = load_config(path)
    env = config.key_environ
    assert env is not None and env.source("GROQ_API_KEY") == dotenv
    assert DOTENV_KEY not in repr(config) + repr(env) + str(config)
    assert DOTENV_KEY not in str(config.model_dump())


def test_a_dotenv_syntax_error_is_a_config_error_naming_the_line(tmp_path):
    path = write_config(tmp_path / "app")
    dotenv = tmp_path / "app" / ".env"
    dotenv.write_text(f'GROQ_API_KEY={DOTENV_KEY}\nOTHER="unterminated {DOTENV_KEY}\n', "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{dotenv}: line 2" in info.value.message
    assert DOTENV_KEY not in info.value.message
    assert info.value.__cause__ is None and info.value.__context__ is None
    _, problems = check_config(path)
    assert len(problems) == 1 and "line 2" in problems[0]


def test_a_working_directory_dotenv_with_an_error_is_a_config_error(tmp_path):
    Path(".env").write_text("not a setting\n", "utf-8")
    with pytest.raises(ConfigError, match=r"\.env: line 1 is not a NAME=value line"):
        load_config(write_config(tmp_path / "app"))


def test_an_unreadable_dotenv_is_a_config_error(tmp_path, monkeypatch):
    path = write_config(tmp_path / "app")
    dotenv = tmp_path / "app" / ".env"
    dotenv.write_bytes(b"GROQ_API_KEY=\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)

    dotenv.write_text(f"GROQ_API_KEY={DOTENV_KEY}\n", "utf-8")
    real_open = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self.name == ".env":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    # Tests may run as root, who reads any file: the refusal is simulated.
    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError, match="cannot read: Permission denied") as info:
        load_config(path)
    assert str(dotenv) in info.value.message
