"""`SSEDecoder` against the WHATWG event-stream rules (HTML §9.2.6).

The decoder receives lines with their terminators already removed (`LineSplitter`
splits on CR, LF and CRLF only; tested at the end of this file).
"""

from __future__ import annotations

import pytest

from construct.transport.framing import LineSplitter, NDJSONFramer, SSEDecoder, SSEFramer


def decode(lines: list[str], *, flush: bool = False) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = [e for line in lines if (e := decoder.feed(line)) is not None]
    if flush and (last := decoder.flush()) is not None:
        events.append(last)
    return events


def test_one_event_per_blank_line() -> None:
    assert decode(["data: a", "", "data: b", ""]) == [("", "a"), ("", "b")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(["data: first", "data: second", "data:third", ""]) == [
        ("", "first\nsecond\nthird")
    ]


def test_comments_are_ignored() -> None:
    assert decode([": keep-alive", "data: x", ":another", ""]) == [("", "x")]
    assert decode([": OPENROUTER PROCESSING", ""]) == []


def test_event_names_are_reported_and_reset_after_each_event() -> None:
    lines = ["event: message_start", "data: {}", "", "data: plain", ""]
    assert decode(lines) == [("message_start", "{}"), ("", "plain")]


def test_an_event_name_without_data_dispatches_nothing_and_is_forgotten() -> None:
    assert decode(["event: ping", "", "data: x", ""]) == [("", "x")]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert decode(["data:no-space", "", "data:  two spaces", "", "data:\ttab", ""]) == [
        ("", "no-space"),
        ("", " two spaces"),
        ("", "\ttab"),
    ]


def test_the_value_may_contain_colons() -> None:
    assert decode(['data: {"a": "b:c"}', ""]) == [("", '{"a": "b:c"}')]


def test_empty_data_dispatches_an_empty_event() -> None:
    # `data:` appends an empty line, so the buffer is not empty and the event is sent.
    assert decode(["data:", ""]) == [("", "")]
    assert decode(["data:", "data:", ""]) == [("", "\n")]


def test_a_field_without_a_colon_is_a_field_with_an_empty_value() -> None:
    assert decode(["data", ""]) == [("", "")]
    assert decode(["data", "data: x", ""]) == [("", "\nx")]
    assert decode(["event", "data: x", ""]) == [("", "x")]


def test_unknown_fields_and_wrong_case_are_ignored() -> None:
    lines = ["id: 7", "retry: 1000", "Data: no", "DATA: no", "foo: bar", "data: yes", ""]
    assert decode(lines) == [("", "yes")]


def test_several_blank_lines_between_events_dispatch_nothing_extra() -> None:
    assert decode(["", "", "data: a", "", "", "", "data: b", "", ""]) == [("", "a"), ("", "b")]


def test_flush_sends_the_last_event_of_a_stream_without_a_final_blank_line() -> None:
    # WHATWG discards such an event; LLM servers that forget the blank line are common enough
    # that the decoder offers `flush()` to keep the last chunk.
    assert decode(["data: a", "", "data: b", "data: c"], flush=True) == [("", "a"), ("", "b\nc")]
    assert decode(["data: a", "", "data: b"]) == [("", "a")]


def test_flush_with_nothing_pending_is_none() -> None:
    decoder = SSEDecoder()
    assert decoder.flush() is None
    assert decoder.feed("data: x") is None
    assert decoder.feed("") == ("", "x")
    assert decoder.flush() is None


def test_openai_stream_lines() -> None:
    lines = ['data: {"choices": []}', "", "data: [DONE]", ""]
    assert [data for _, data in decode(lines)] == ['{"choices": []}', "[DONE]"]


# -- LineSplitter ------------------------------------------------------------------------------


def _split(*chunks: str) -> list[str]:
    splitter = LineSplitter()
    out: list[str] = []
    for c in chunks:
        out += splitter.feed(c)
    return out + splitter.flush()


def test_line_splitter_keeps_unicode_line_separators_inside_a_line():
    # U+2028 may stand raw inside a JSON string; only CR and LF end an SSE line.
    line = 'data: {"text": "a\u2028b\u0085c\x1cd"}'
    assert _split(line + "\n\n") == [line, ""]


@pytest.mark.parametrize("cut", range(1, 12))
def test_line_splitter_handles_crlf_cr_and_lf_split_anywhere(cut):
    text = "a\r\nb\rc\nd\r\n\r\ne"
    assert _split(text[:cut], text[cut:]) == ["a", "b", "c", "d", "", "e"]


# -- bytes in: framers and chunks ------------------------------------------------------------


def _ndjson_lines(*reads: bytes) -> list[str]:
    # NDJSON hands on every non-blank line, so it shows how reads become lines.
    framer = NDJSONFramer()
    out = [line for data in reads for line in framer.feed(data)]
    return out + framer.flush()


@pytest.mark.parametrize("cut", range(1, 17))
def test_utf8_lines_survive_a_character_or_crlf_split_between_reads(cut):
    data = "é✓\r\n😀 x\r\r\ny".encode()
    assert _ndjson_lines(data[:cut], data[cut:]) == ["é✓", "😀 x", "y"]


def test_utf8_lines_replace_bad_bytes_and_a_cut_off_character():
    assert _ndjson_lines(b"a\xffb\n", "c✓".encode()[:-1]) == ["a\ufffdb", "c\ufffd"]


@pytest.mark.parametrize("cut", range(1, 40))
def test_sse_framer_gives_each_event_once_whatever_the_reads(cut):
    body = b'data: {"a": 1}\r\n\r\n: keepalive\n\ndata: x\ndata: \xc3\xa9\n\ndata: last'
    framer = SSEFramer()
    got = framer.feed(body[:cut]) + framer.feed(body[cut:]) + framer.flush()
    assert got == ['{"a": 1}', "x\né", "last"]


def test_one_read_with_several_events_gives_them_all():
    framer = SSEFramer()
    assert framer.feed(b"data: 1\n\ndata: 2\n\ndata: 3") == ["1", "2"]
    assert framer.flush() == ["3"]


BOM = "\ufeff".encode()


@pytest.mark.parametrize("cut", range(0, 6))
def test_a_byte_order_mark_opening_the_stream_is_dropped_whatever_the_reads(cut):
    # HTML §9.2.5: one leading U+FEFF is ignored; kept, `\ufeffdata: hello` is an unknown
    # field and the first event is lost.
    body = BOM + b"data: hello\n\ndata: \xef\xbb\xbfkept\n\n"
    framer = SSEFramer()
    got = framer.feed(body[:cut]) + framer.feed(body[cut:]) + framer.flush()
    assert got == ["hello", "\ufeffkept"]


def test_a_byte_order_mark_before_ndjson_is_dropped_and_only_at_the_start():
    assert _ndjson_lines(BOM, b'{"a": 1}\n', BOM + b"x\n") == ['{"a": 1}', "\ufeffx"]
    assert _ndjson_lines(b"", BOM + b"y") == ["y"]
