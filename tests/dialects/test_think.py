"""`split_think` and its streaming form `TagSplitter`: the same answer however the text is cut."""

from __future__ import annotations

import itertools

import pytest

from construct.dialects.think import TagSplitter, split_think

# Blocks in these strings are separated by outside text, so the runs a splitter
# yields map one to one onto the blocks `split_think` collects.
SEPARATED = [
    "plain text, no tags at all",
    "<think>reason</think>answer",
    "before <think> r1 </think> middle <think>r2\nmore</think> after",
    "<think>unclosed reasoning that runs to the end",
    "answer first <think>then an unclosed one",
    "a < b and <thinking>not a tag</thinking> c",
    "x <<think>>y</think>> z",
    "</think> stray close, then <think>t</think>end",
    "<think>a<think>b</think>c",
    "<thi nk> not a tag, and a tail that looks like one <think",
    "<think></think>empty block",
    "  padded <think>\n  r  \n</think>\n\n  answer  ",
]
# Adjacent blocks: only the concatenations are comparable.
ADJACENT = ["<think>a</think><think>b</think>", "<think>x</think></think>y<think>"]


def runs(splitter: TagSplitter, pieces: list[str]) -> list[tuple[bool, str]]:
    """Everything the splitter yields for `pieces`, flushed, with neighbouring runs merged."""
    out: list[tuple[bool, str]] = []
    for inside, text in [*(p for piece in pieces for p in splitter.feed(piece)), *splitter.flush()]:
        assert text, "the splitter never yields empty pieces"
        if out and out[-1][0] == inside:
            out[-1] = (inside, out[-1][1] + text)
        else:
            out.append((inside, text))
    return out


def as_split_think(text: str, pieces: list[tuple[bool, str]]) -> tuple[str, str]:
    """`split_think`'s normalisation applied to a splitter's runs."""
    answer = "".join(t for inside, t in pieces if not inside)
    if "<think>" not in text:
        return answer, ""
    blocks = [t.strip() for inside, t in pieces if inside and t.strip()]
    return answer.strip(), "\n".join(blocks)


def splits(text: str, ways: int):
    for cuts in itertools.combinations_with_replacement(range(len(text) + 1), ways - 1):
        bounds = (0, *cuts, len(text))
        yield [text[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("text", SEPARATED)
def test_every_two_and_three_way_split_agrees_with_split_think(text: str) -> None:
    expected = split_think(text)
    whole = runs(TagSplitter(), [text])
    assert as_split_think(text, whole) == expected
    for ways in (2, 3):
        for pieces in splits(text, ways):
            got = runs(TagSplitter(), pieces)
            assert got == whole, pieces


@pytest.mark.parametrize("text", ADJACENT)
def test_adjacent_blocks_concatenate_the_same_under_every_split(text: str) -> None:
    def joined(pieces: list[tuple[bool, str]]) -> tuple[str, str]:
        return (
            "".join(t for inside, t in pieces if not inside),
            "".join(t for inside, t in pieces if inside),
        )

    whole = joined(runs(TagSplitter(), [text]))
    for ways in (2, 3):
        for pieces in splits(text, ways):
            assert joined(runs(TagSplitter(), pieces)) == whole, pieces


def test_every_split_of_a_character_stream() -> None:
    text = "a<think>bc</think>d<think>e"
    expected = runs(TagSplitter(), [text])
    assert expected == [(False, "a"), (True, "bc"), (False, "d"), (True, "e")]
    assert runs(TagSplitter(), list(text)) == expected


def test_split_think_basic_shapes() -> None:
    assert split_think("no tags  ") == ("no tags  ", "")
    assert split_think("<think>r</think>\n\nAnswer") == ("Answer", "r")
    assert split_think("<think> one </think>A<think>two</think>B") == ("AB", "one\ntwo")
    assert split_think("Answer<think>unclosed") == ("Answer", "unclosed")
    assert split_think("<think>only reasoning</think>") == ("", "only reasoning")
    assert split_think("<think>   </think>x") == ("x", "")


def test_lookalike_tags_are_text() -> None:
    # The tag is exactly `<think>`: `<thinking>`, `< think>` and a lone close are answer text.
    for text in ("a < b > c", "<thinking>x</thinking>", "< think>x</think>", "x</think>y"):
        assert split_think(text) == (text, "")
        assert runs(TagSplitter(), list(text)) == [(False, text)]


def test_a_held_tag_prefix_is_released_when_the_next_delta_decides_it() -> None:
    splitter = TagSplitter()
    assert splitter.feed("a <thi") == [(False, "a ")]
    assert splitter.feed("s is not a tag") == [(False, "<this is not a tag")]
    assert splitter.feed("<") == []
    assert splitter.feed("think>r") == [(True, "r")]
    assert splitter.feed("</th") == []
    assert splitter.feed("ink>done") == [(False, "done")]
    assert splitter.flush() == []


def test_flush_returns_a_held_prefix_on_its_side_of_the_tag() -> None:
    outside = TagSplitter()
    assert outside.feed("ends with <thin") == [(False, "ends with ")]
    assert outside.flush() == [(False, "<thin")]
    assert outside.flush() == []
    inside = TagSplitter()
    assert inside.feed("<think>still thinking </thi") == [(True, "still thinking ")]
    assert inside.flush() == [(True, "</thi")]


@pytest.mark.parametrize(
    "text",
    [
        'Let me look. <tool_call>{"name": "a"}</tool_call> and <tool_call>{"name": "b"}',
        "<tool_call></tool_call><tool_c",
        "a <tool_cal b </tool_call> c",
    ],
)
def test_custom_tags_split_the_same_under_every_split(text: str) -> None:
    def make() -> TagSplitter:
        return TagSplitter("<tool_call>", "</tool_call>")

    whole = runs(make(), [text])
    for ways in (2, 3):
        for pieces in splits(text, ways):
            assert runs(make(), pieces) == whole, pieces
