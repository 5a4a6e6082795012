"""providers.json: reading in order, the daemon's checks, writing back what was read."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from construct.errors import ConfigError, InvalidArgument
from construct.remote.processes import (
    DEFAULT_PROVIDERS_JSON,
    ProcessEntry,
    load_providers_json,
    remove,
    save_providers_json,
    upsert,
)

# The example of Infinity's docs (reference A4), with a key neither Infinity nor construct knows.
DOCS_EXAMPLE = {
    "bedrock": {
        "command": ["infinity-provider-bedrock"],
        "crate_name": "infinity-provider-bedrock",
        "git": "https://github.com/hydro-project/infinity",
    },
    "my-provider": {"command": ["/usr/local/bin/my-provider", "--some-flag"]},
}


def _write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_the_docs_example_reads_in_document_order(tmp_path):
    # Not alphabetical: "zeta" first proves the order is the file's.
    data = {"zeta": {"command": ["z"]}, **DOCS_EXAMPLE, "alpha": {"command": ["a"]}}
    entries = load_providers_json(_write(tmp_path / "p.json", data))
    assert [e.id for e in entries] == ["zeta", "bedrock", "my-provider", "alpha"]
    bedrock = entries[1]
    assert bedrock.command == ("infinity-provider-bedrock",)
    assert bedrock.crate_name == "infinity-provider-bedrock"
    assert bedrock.git == "https://github.com/hydro-project/infinity"
    assert bedrock.path is None and bedrock.package is None and dict(bedrock.extra) == {}
    assert entries[2].command == ("/usr/local/bin/my-provider", "--some-flag")


def test_a_round_trip_keeps_order_optional_keys_and_unknown_keys(tmp_path):
    data = {
        "b": {"command": ["b"], "package": "b-pkg", "future": {"x": [1, 2]}, "note": "hi"},
        "a": {"command": ["a", "--x"], "path": "/src/a", "crate_name": "a"},
    }
    source = _write(tmp_path / "in.json", data)
    entries = load_providers_json(source)
    assert dict(entries[0].extra) == {"future": {"x": [1, 2]}, "note": "hi"}
    target = tmp_path / "out.json"
    save_providers_json(entries, target)
    assert json.loads(target.read_text()) == data
    assert list(json.loads(target.read_text())) == ["b", "a"]
    assert load_providers_json(target) == entries


def test_the_file_is_pretty_printed_with_a_trailing_newline_and_no_nulls(tmp_path):
    target = tmp_path / "p.json"
    save_providers_json([ProcessEntry("x", ("prog", "--flag"), package="pkg")], target)
    text = target.read_text()
    assert text == (
        '{\n  "x": {\n    "command": [\n      "prog",\n      "--flag"\n    ],\n'
        '    "package": "pkg"\n  }\n}\n'
    )


def test_saving_makes_the_directory_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "new" / "dir" / "providers.json"
    save_providers_json([ProcessEntry("x", ("prog",))], target)
    assert load_providers_json(target)[0].id == "x"
    save_providers_json([ProcessEntry("y", ("prog",))], target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["providers.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = _write(tmp_path / "providers.json", DOCS_EXAMPLE)
    before = target.read_text()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        save_providers_json([ProcessEntry("x", ("prog",))], target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["providers.json"]


def test_a_rewrite_keeps_the_file_mode(tmp_path):
    target = _write(tmp_path / "providers.json", DOCS_EXAMPLE)
    target.chmod(0o600)
    save_providers_json(load_providers_json(target), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlinked_file_stays_a_link(tmp_path):
    real = _write(tmp_path / "real.json", DOCS_EXAMPLE)
    link = tmp_path / "providers.json"
    link.symlink_to(real)
    save_providers_json([ProcessEntry("x", ("prog",))], link)
    assert link.is_symlink()
    assert list(json.loads(real.read_text())) == ["x"]


def test_the_default_path_is_infinitys_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert DEFAULT_PROVIDERS_JSON == "~/.infinity/providers.json"
    save_providers_json([ProcessEntry("x", ("prog",))])
    assert (tmp_path / ".infinity" / "providers.json").is_file()
    assert [e.id for e in load_providers_json()] == ["x"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"a": {"command": ["x"]}', r"failed to parse .*p\.json: .* at line 1, column 25"),
        ('{\n  "a": {"command": ["x"],}\n}', r"at line 2, column 26"),
        ("[]", r"p\.json: expected a JSON object .*, got a list"),
        ("{}", r"^no providers configured in .*p\.json; add one with `construct processes add"),
        ('{"": {"command": ["x"]}}', r"a provider id is empty"),
        (
            '{"a": {"command": ["x"]}, "b": {"command": ["y"]}, "a": {"command": ["z"]}}',
            r"provider id 'a' appears more than once",
        ),
        ('{"a": ["x"]}', r"provider 'a' must be an object with a \"command\" list, got a list"),
        ('{"a": {}}', r"provider 'a' has no \"command\""),
        ('{"a": {"command": []}}', r"provider 'a': \"command\" is empty"),
        ('{"a": {"command": [""]}}', r"provider 'a': \"command\" is empty"),
        ('{"a": {"command": "x --flag"}}', r"\"command\" must be a list of strings, got a string"),
        ('{"a": {"command": ["x", 3]}}', r"must be a list of strings, but it holds a number \(3\)"),
        ('{"a": {"command": ["x"], "git": 1}}', r"provider 'a': 'git' must be a string, got a num"),
        ('{"a": {"command": ["x"], "package": ["p"]}}', r"'package' must be a string, got a list"),
        ('{"a": {"command": ["x"], "command": ["y"]}}', r"has the key 'command' twice"),
    ],
)
def test_each_problem_is_a_config_error_naming_the_file(tmp_path, content, says):
    path = _write(tmp_path / "p.json", content)
    with pytest.raises(ConfigError, match=says) as caught:
        load_providers_json(path)
    assert str(path) in caught.value.message


def test_a_missing_file_says_how_to_add_a_provider(tmp_path):
    path = tmp_path / "none.json"
    with pytest.raises(ConfigError) as caught:
        load_providers_json(path)
    assert caught.value.message == (
        f"no model providers configured ({path} not found); "
        "add one with `construct processes add ID -- COMMAND...`"
    )


def test_an_editor_reads_a_missing_or_empty_file_as_no_entries(tmp_path):
    assert load_providers_json(tmp_path / "none.json", required=False) == []
    assert load_providers_json(_write(tmp_path / "p.json", "{}"), required=False) == []
    with pytest.raises(ConfigError, match="failed to parse"):
        load_providers_json(_write(tmp_path / "bad.json", "{"), required=False)


def test_null_optional_keys_read_as_absent(tmp_path):
    path = _write(tmp_path / "p.json", {"a": {"command": ["x"], "git": None}})
    assert load_providers_json(path)[0].git is None


def test_a_directory_is_no_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read .*: Is a directory"):
        load_providers_json(tmp_path)


def test_upsert_keeps_the_position_of_an_existing_id():
    entries = [ProcessEntry(i, (i,)) for i in ("a", "b", "c")]
    replaced = upsert(entries, ProcessEntry("b", ("new",)))
    assert [(e.id, e.command) for e in replaced] == [("a", ("a",)), ("b", ("new",)), ("c", ("c",))]
    added = upsert(entries, ProcessEntry("d", ("d",)))
    assert [e.id for e in added] == ["a", "b", "c", "d"]
    assert [e.id for e in entries] == ["a", "b", "c"]  # the input is left alone


def test_remove_takes_one_out_and_names_the_known_ids_when_absent():
    entries = [ProcessEntry(i, (i,)) for i in ("a", "b", "c")]
    assert [e.id for e in remove(entries, "b")] == ["a", "c"]
    with pytest.raises(ConfigError, match=r"no provider process named 'z'.*: a, b, c$"):
        remove(entries, "z")


def test_saving_refuses_a_duplicate_id(tmp_path):
    twice = [ProcessEntry("a", ("x",)), ProcessEntry("a", ("y",))]
    with pytest.raises(InvalidArgument, match="'a' is given twice"):
        save_providers_json(twice, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"id": "", "command": ("x",)}, "id must be a non-empty string"),
        ({"id": "a", "command": "x --flag"}, "command must be a list of strings"),
        ({"id": "a", "command": ()}, "non-empty list of strings"),
        ({"id": "a", "command": ("x", 1)}, "non-empty list of strings"),
        ({"id": "a", "command": ("x",), "git": 3}, "git must be a string or None"),
        ({"id": "a", "command": ("x",), "extra": {"command": []}}, "extra may not hold command"),
    ],
)
def test_an_entry_built_in_code_is_checked_too(kwargs, says):
    with pytest.raises(InvalidArgument, match=says):
        ProcessEntry(**kwargs)


def test_an_entry_is_frozen_all_the_way_down():
    entry = ProcessEntry("a", ["x", "y"], extra={"k": 1})
    assert entry.command == ("x", "y")
    with pytest.raises(TypeError):
        entry.extra["k"] = 2  # type: ignore[index]
    assert entry == ProcessEntry("a", ("x", "y"), extra={"k": 1})
    assert hash(entry) == hash(ProcessEntry("a", ("x", "y"), extra={"k": 1}))
