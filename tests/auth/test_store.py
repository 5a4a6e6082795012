"""The token store: where sign-ins live, who can read them, how they are written, and one
refresh for two processes that need it at once."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from construct.auth.store import Credential, Revoked, Session, TokenStore, construct_home
from construct.errors import AuthError, InvalidArgument
from construct.secrets import Secret
from tests.auth.racing import race

ROOT = Path(__file__).resolve().parents[2]
GITHUB = "ghu_STORECANARY0123456789abcdef"
COPILOT = "tid=STORECANARY;exp=1;sku=free;8kp=1:0a1b2c3d4e5f"


def credential(**changes) -> Credential:
    fields = {
        "provider": "copilot",
        "access_token": Secret(GITHUB),
        "account": "octocat",
        "method": "device flow",
        "obtained_at": 1_765_000_000.0,
    }
    fields.update(changes)
    return Credential(**fields)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_construct_home_is_named_by_the_variable_else_beside_the_config(tmp_path: Path) -> None:
    assert construct_home({"CONSTRUCT_HOME": str(tmp_path / "ch")}) == tmp_path / "ch"
    assert construct_home({"HOME": str(tmp_path)}) == tmp_path / ".construct"
    assert construct_home({"HOME": str(tmp_path), "CONSTRUCT_HOME": " "}) == (
        tmp_path / ".construct"
    )


def test_default_store_honours_construct_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSTRUCT_HOME", str(tmp_path / "elsewhere"))
    store = TokenStore.default()
    path = store.save(credential())
    assert path == tmp_path / "elsewhere" / "auth" / "copilot" / "default.json"


def test_files_are_0600_in_0700_directories(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth")
    path = store.save(credential(profile="work"))
    assert path == tmp_path / "auth" / "copilot" / "work.json"
    assert mode(tmp_path / "auth") == 0o700
    assert mode(tmp_path / "auth" / "copilot") == 0o700
    assert mode(path) == 0o600
    assert mode(path.with_suffix(".lock")) == 0o600


def test_a_directory_left_open_to_others_is_narrowed(tmp_path: Path) -> None:
    (tmp_path / "auth" / "copilot").mkdir(parents=True, mode=0o755)
    os.chmod(tmp_path / "auth", 0o755)
    os.chmod(tmp_path / "auth" / "copilot", 0o775)
    TokenStore(tmp_path / "auth").save(credential())
    assert mode(tmp_path / "auth") == 0o700
    assert mode(tmp_path / "auth" / "copilot") == 0o700


def test_a_credential_round_trips_and_stays_masked(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    saved = credential(
        refresh_token=Secret("rt-STORECANARY-refresh-0123"),
        expires_at=1_800_000_000.0,
        session=Session(
            Secret(COPILOT), 1_765_001_000.0, "https://api.individual.githubcopilot.com"
        ),
    )
    store.save(saved)
    assert store.load("copilot") == saved
    for text in (repr(saved), str(saved), repr(store)):
        assert GITHUB not in text and COPILOT not in text and "STORECANARY" not in text


def test_a_write_is_atomic_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(tmp_path)
    path = store.save(credential(account="first"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["default.json", "default.lock"]

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.save(credential(account="second"))
    # The old file is whole, and the half-written one is gone.
    assert store.load("copilot").account == "first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["default.json", "default.lock"]


def test_loading_creates_nothing(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth")
    assert store.load("copilot") is None
    assert store.entries() == []
    assert store.delete("copilot") is None
    assert not (tmp_path / "auth").exists()


@pytest.mark.parametrize(
    "content",
    [
        "{not json " + GITHUB,
        json.dumps({"version": 1, "provider": "copilot", "access_token": 7}),
        json.dumps({"version": 9, "access_token": GITHUB}),
        json.dumps([GITHUB]),
    ],
)
def test_an_unreadable_file_says_what_to_do_without_showing_it(
    tmp_path: Path, content: str
) -> None:
    store = TokenStore(tmp_path)
    path = store.path("copilot")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(AuthError) as info:
        store.load("copilot")
    message = str(info.value)
    assert str(path) in message and "construct auth logout copilot" in message
    assert "STORECANARY" not in message and "STORECANARY" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "", "x y"])
def test_names_cannot_leave_the_store(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument):
        TokenStore(tmp_path).path("copilot", name)
    with pytest.raises(InvalidArgument):
        TokenStore(tmp_path).path(name)


def test_entries_and_delete(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(credential())
    store.save(credential(profile="work", account="hubot"))
    assert store.entries() == [("copilot", None), ("copilot", "work")]
    assert store.delete("copilot", "work").account == "hubot"
    assert store.entries() == [("copilot", None)]
    assert store.delete("copilot", "work") is None


# -- refreshing -------------------------------------------------------------------------


def stale_session(found: Credential) -> bool:
    return found.session is None or found.session.expires_at < time.time() + 120


def new_session(label: str):
    def refresh(found: Credential) -> Credential:
        calls.append(label)
        token = Secret(f"tid=fresh-{label}-{len(calls)};sig=0123456789")
        return Credential(
            found.provider,
            found.access_token,
            account=found.account,
            session=Session(token, time.time() + 1500),
        )

    calls: list[str] = []
    refresh.calls = calls  # type: ignore[attr-defined]
    return refresh


def test_a_fresh_credential_is_not_refreshed(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(credential(session=Session(Secret(COPILOT), time.time() + 600)))
    refresh = new_session("a")
    assert store.refreshed("copilot", None, stale_session, refresh).session.token == Secret(COPILOT)
    assert refresh.calls == []


def test_a_stale_credential_is_refreshed_once_and_saved(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(credential())
    refresh = new_session("a")
    first = store.refreshed("copilot", None, stale_session, refresh)
    again = store.refreshed("copilot", None, stale_session, refresh)
    assert refresh.calls == ["a"]
    assert first.session == again.session == store.load("copilot").session
    assert store.load("copilot").account == "octocat"


def test_nothing_stored_is_nothing_refreshed(tmp_path: Path) -> None:
    refresh = new_session("a")
    assert TokenStore(tmp_path).refreshed("copilot", None, stale_session, refresh) is None
    assert refresh.calls == []


def test_a_revoked_sign_in_is_removed(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(credential())

    def refresh(found: Credential) -> Credential:
        raise Revoked(AuthError("refused; sign in again", provider="copilot"))

    with pytest.raises(AuthError, match="sign in again"):
        store.refreshed("copilot", None, stale_session, refresh)
    assert store.load("copilot") is None


def test_two_threads_refresh_once(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(credential())
    calls: list[int] = []

    def slow(found: Credential) -> Credential:
        calls.append(1)
        time.sleep(0.3)
        return Credential("copilot", found.access_token, session=Session(Secret(COPILOT), 2e9))

    results: list[Credential | None] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(store.refreshed("copilot", None, stale_session, slow))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert results[0].session == results[1].session


def test_a_held_lock_is_waited_for_only_so_long(tmp_path: Path) -> None:
    store = TokenStore(tmp_path, lock_timeout_s=0.2)
    store.save(credential())
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.locked("copilot"):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(AuthError, match="held the sign-in lock"):
            store.refreshed("copilot", None, stale_session, new_session("late"))
    finally:
        release.set()
        holder.join()


# One process of the two: build the store, say it is ready, wait for "go", then refresh
# with a refresh that counts itself in a file and takes long enough for the other to
# arrive; print the token it ends with.
REFRESHER = textwrap.dedent(
    """
    import sys, time
    from construct.auth.store import Credential, Session, TokenStore
    from construct.secrets import Secret

    root, counter, label = sys.argv[1:4]

    def stale(found):
        return found.session is None or found.session.expires_at < time.time() + 120

    def refresh(found):
        with open(counter, "a") as f:
            f.write(label + "\\n")
        time.sleep(0.5)
        token = Secret("tid=rotated-by-" + label + ";sig=0123456789")
        session = Session(token, time.time() + 1500)
        return Credential(found.provider, found.access_token, session=session)

    store = TokenStore(root)
    print("ready", flush=True)
    sys.stdin.readline()
    print(store.refreshed("copilot", None, stale, refresh).session.token.reveal(), flush=True)
    """
)


def test_two_processes_refreshing_at_once_make_one_refresh(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth")
    store.save(credential())
    counter = tmp_path / "refreshes.txt"
    script = tmp_path / "refresher.py"
    script.write_text(REFRESHER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tokens = race(
        [
            [sys.executable, str(script), str(tmp_path / "auth"), str(counter), label]
            for label in ("one", "two")
        ],
        env,
    )
    assert len(counter.read_text().splitlines()) == 1
    assert tokens[0] == tokens[1]
    assert tokens[0].startswith("tid=rotated-by-")
    assert store.load("copilot").session.token.reveal() == tokens[0]
