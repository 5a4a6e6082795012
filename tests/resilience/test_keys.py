"""`KeyPool`: round robin, per-key cooldowns, retirement (PROVIDERS.md L4)."""

from __future__ import annotations

from construct.resilience.keys import KeyPool
from construct.secrets import Secret


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pool(*values: str, clock: Clock | None = None) -> KeyPool:
    return KeyPool([Secret(v) for v in values], clock or Clock())


def picked(p: KeyPool, excluded: set[int] | None = None) -> str | None:
    got = p.pick(excluded or set())
    return None if got is None else got[1].last4


def test_pick_is_sticky_until_a_key_cools():
    p = pool("key-aaaa-0001", "key-bbbb-0002", "key-cccc-0003")
    assert p.pick(set()) == (0, Secret("key-aaaa-0001"))
    assert picked(p) == "0001"  # success does not move the rotation


def test_cooling_moves_the_rotation_round_robin():
    clock = Clock()
    p = pool("key-aaaa-0001", "key-bbbb-0002", "key-cccc-0003", clock=clock)
    order = []
    for _ in range(3):
        index, key = p.pick(set())
        order.append(key.last4)
        p.cool(index, 5.0)
        clock.now += 1.0
    assert order == ["0001", "0002", "0003"]
    assert p.pick(set()) is None  # all three cooling
    clock.now += 2.0  # the first key cooled at t=0 for 5 s; now t=5
    assert picked(p) == "0001"


def test_cooldown_excludes_a_key_until_it_expires():
    clock = Clock()
    p = pool("key-aaaa-0001", "key-bbbb-0002", clock=clock)
    p.cool(0, 10.0)
    assert picked(p) == "0002"
    p.cool(1, 3.0)
    assert picked(p) is None
    clock.now += 2.5
    assert picked(p) is None
    clock.now += 0.5
    assert picked(p) == "0002"
    clock.now += 7.0
    assert picked(p) == "0002"  # the rotation stays where it was
    p.cool(1, 1.0)
    assert picked(p) == "0001"


def test_a_longer_cooldown_is_never_shortened():
    clock = Clock()
    p = pool("key-aaaa-0001", "key-bbbb-0002", clock=clock)
    p.cool(0, 10.0)
    p.cool(0, 1.0)
    clock.now += 5.0
    assert p.available({1}) is False


def test_cooling_a_key_that_is_not_next_keeps_the_rotation():
    p = pool("key-aaaa-0001", "key-bbbb-0002", "key-cccc-0003")
    p.cool(2, 5.0)
    assert picked(p) == "0001"


def test_excluded_keys_are_skipped():
    p = pool("key-aaaa-0001", "key-bbbb-0002", "key-cccc-0003")
    assert picked(p, {0}) == "0002"
    assert picked(p, {0, 1}) == "0003"
    assert picked(p, {0, 1, 2}) is None


def test_duplicate_keys_are_dropped():
    p = pool("key-aaaa-0001", "key-bbbb-0002", "key-aaaa-0001", " key-bbbb-0002 ")
    assert len(p) == 2
    assert [picked(p, {i}) for i in (1, 0)] == ["0001", "0002"]


def test_available_does_not_move_the_rotation():
    clock = Clock()
    p = pool("key-aaaa-0001", "key-bbbb-0002", clock=clock)
    assert p.available(set()) is True
    assert p.available({0}) is True
    assert p.available({0, 1}) is False
    p.cool(1, 5.0)
    assert p.available({0}) is False
    assert picked(p) == "0001"
    clock.now += 5.0
    assert p.available({0}) is True


def test_soonest_ready():
    clock = Clock()
    p = pool("key-aaaa-0001", "key-bbbb-0002", clock=clock)
    assert p.soonest_ready() == 0.0
    p.cool(0, 8.0)
    assert p.soonest_ready() == 0.0  # the second key is usable now
    p.cool(1, 3.0)
    assert p.soonest_ready() == 3.0
    clock.now += 1.0
    assert p.soonest_ready() == 2.0
    clock.now += 10.0
    assert p.soonest_ready() == 0.0
    assert KeyPool([]).soonest_ready() is None


def test_repr_shows_only_the_last_four_characters():
    p = pool("sk-secret-value-aaaa0001", "sk-secret-value-bbbb0002")
    text = repr(p)
    assert text == "KeyPool(2 keys: …0001, …0002)"
    assert "secret" not in text
