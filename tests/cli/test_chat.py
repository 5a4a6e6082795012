"""`construct chat` against a loopback OpenAI-compatible server."""

from __future__ import annotations

from .conftest import CHUNKS

ANSWER = "".join(CHUNKS)


def _user_text(request: dict) -> str:
    return next(m["content"] for m in request["body"]["messages"] if m["role"] == "user")


def test_chat_streams_the_text(cli, server):
    result = cli("chat", "-p", f"custom:{server.url}", "-m", "test-model", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["body"]["model"] == "test-model"
    assert request["body"]["stream"] is True
    assert _user_text(request) == "hi"
    assert "temperature" not in request["body"]


def test_chat_no_stream(cli, server):
    result = cli(
        "chat",
        "--no-stream",
        "-p",
        f"custom:{server.url}",
        "-m",
        "test-model",
        "--system",
        "be brief",
        "hi",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    body = server.requests[0]["body"]
    assert not body.get("stream")
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert _user_text(server.requests[0]) == "hi"


def test_chat_reads_the_prompt_from_stdin(cli, server):
    args = ("chat", "-p", f"custom:{server.url}", "-m", "test-model")
    assert cli(*args, "-", input="from stdin\n").stdout == ANSWER + "\n"
    assert cli(*args, input="again\n").stdout == ANSWER + "\n"
    assert [_user_text(r) for r in server.requests] == ["from stdin", "again"]


def test_chat_takes_provider_model_and_temperature_from_the_config(cli, server):
    (cli.home / "config.toml").write_text(
        f'default_provider = "custom:{server.url}"\n'
        'default_model = "configured-model"\n'
        "default_temperature = 0.3\n"
    )
    result = cli("chat", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    body = server.requests[0]["body"]
    assert body["model"] == "configured-model"
    assert body["temperature"] == 0.3
    cli("chat", "--temperature", "1.5", "-m", "other-model", "hello")
    assert server.requests[1]["body"]["model"] == "other-model"
    assert server.requests[1]["body"]["temperature"] == 1.5


def test_the_config_key_goes_only_to_the_config_provider(cli, server):
    key = "cfg-secret-0123456789abcdef"
    (cli.home / "config.toml").write_text(
        f'default_provider = "custom:{server.url}"\napi_key = "{key}"\n'
        '[extra_headers]\nX-Title = "app"\nX-Api-Key = "hdr-secret-0123456789"\n'
    )
    assert cli("chat", "-m", "m", "hi").returncode == 0
    sent = server.requests[0]["headers"]
    assert sent.get("Authorization") == f"Bearer {key}"
    # Another endpoint given with -p gets neither the key nor the secret header (K1).
    other = server.url.replace("127.0.0.1", "localhost")
    result = cli("chat", "-p", f"custom:{other}", "-m", "m", "hi")
    assert result.returncode == 0, result.stderr
    sent = server.requests[1]["headers"]
    assert "Authorization" not in sent
    assert "X-Api-Key" not in sent
    assert sent.get("X-Title") == "app"


def test_a_401_exits_1_with_one_line(cli, server):
    server.status = 401
    result = cli("chat", "-p", f"custom:{server.url}", "-m", "test-model", "hi")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("construct: error:")
    assert "401" in lines[0] and "Invalid API key provided" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_key_names_the_variable(cli):
    result = cli("chat", "-p", "groq", "-m", "llama-3.3-70b-versatile", "hi")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "GROQ_API_KEY" in lines[0] and "No API key" in lines[0]
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli):
    no_model = cli("chat", "-p", "groq", "hi")
    assert no_model.returncode == 2 and "-m MODEL" in no_model.stderr
    empty = cli("chat", "-p", "groq", "-m", "x", input="")
    assert empty.returncode == 2 and "empty" in empty.stderr
    unknown = cli("chat", "-p", "nosuch", "-m", "x", "hi")
    assert unknown.returncode == 2 and "Unknown provider" in unknown.stderr
    hot = cli("chat", "-p", "groq", "-m", "x", "--temperature", "3", "hi")
    assert hot.returncode == 2 and "out of range" in hot.stderr
    for result in (no_model, empty, unknown, hot):
        assert "Traceback" not in result.stderr


def test_a_broken_config_is_one_line(cli):
    (cli.home / "config.toml").write_text("bogus = 1\nother = 2\n")
    result = cli("chat", "-m", "x", "hi")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus" in lines[0] and "other" in lines[0]


def _dead_url() -> str:
    """A loopback URL nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_chat_falls_back_as_the_config_says_and_says_who_answered(cli, server):
    # The default provider is down; the config's fallback answers, as from Python.
    (cli.home / "config.toml").write_text(
        f'default_provider = "custom:{_dead_url()}"\n'
        'default_model = "test-model"\n'
        "[reliability]\n"
        "provider_retries = 0\n"
        f'fallback_providers = ["custom:{server.url}"]\n'
    )
    result = cli("chat", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(server.requests) == 1
    assert f"answered by custom:{server.url} with test-model" in result.stderr
    assert "failed" in result.stderr
    assert "warning" not in result.stderr


def test_chat_sends_a_hint_where_route_explain_says(cli, server):
    (cli.home / "config.toml").write_text(
        f'default_provider = "custom:{_dead_url()}"\n'
        "[[model_routes]]\n"
        'hint = "fast"\n'
        f'provider = "custom:{server.url}"\n'
        'model = "routed-model"\n'
    )
    explain = cli("route", "explain", "hint:fast")
    assert "routed-model" in explain.stdout, explain.output
    result = cli("chat", "-m", "hint:fast", "hi")
    assert result.returncode == 0, result.stderr
    assert server.requests[0]["body"]["model"] == "routed-model"
    # The route's own provider answered: nothing fell back, nothing to say.
    assert result.stderr == ""


def test_dash_p_overrides_the_default_provider_and_keeps_the_fallbacks(cli, server):
    (cli.home / "config.toml").write_text(
        'default_provider = "groq"\n'
        "[reliability]\n"
        "provider_retries = 0\n"
        f'fallback_providers = ["custom:{server.url}"]\n'
    )
    result = cli("chat", "-p", f"custom:{_dead_url()}", "-m", "test-model", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert "answered by" in result.stderr


def test_a_missing_key_is_explained_in_the_cli_s_own_terms(cli):
    # Not "pass api_key=" (a Python keyword argument) to someone at a shell.
    result = cli("chat", "-p", "groq", "-m", "llama-3.3-70b-versatile", "hi")
    assert result.returncode != 0
    assert "api_key in config.toml" in result.stderr
    assert ".env" in result.stderr
    assert "pass api_key=" not in result.stderr


def test_a_wrong_vendor_key_in_the_config_says_to_fix_the_config(cli):
    (cli.home / "config.toml").write_text(
        'default_provider = "groq"\ndefault_model = "m"\napi_key = "sk-proj-abcdef0123456789"\n'
    )
    result = cli("chat", "hi")
    assert result.returncode != 0
    assert "api_key" in result.stderr and "config.toml" in result.stderr
    assert "Set GROQ_API_KEY" not in result.stderr
    assert "abcdef0123456789" not in result.stderr


def test_with_no_config_and_no_key_chat_says_which_provider_it_used_and_why(cli):
    result = cli("chat", "-m", "gpt-4o", "hi", GROQ_API_KEY="gsk_test_0123456789abcdef")
    assert result.returncode == 1
    note, error = result.stderr.strip().splitlines()
    assert note.startswith("construct: note: using openrouter, the default provider")
    assert "-p was not given and no config file was found" in note
    assert "Keys are set for: groq." in note
    assert "OPENROUTER_API_KEY" in error
    assert "gsk_test" not in result.stderr


def test_a_config_without_default_provider_is_named_as_the_reason(cli):
    (cli.home / "config.toml").write_text('default_model = "m"\n')
    result = cli("chat", "hi")
    assert f"{cli.home / 'config.toml'} sets no default_provider" in result.stderr
    assert "Keys are set for" not in result.stderr


def test_no_note_when_the_provider_was_chosen(cli):
    result = cli("chat", "-p", "groq", "-m", "m", "hi")
    assert "note:" not in result.stderr
