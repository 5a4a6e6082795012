"""The AWS event-stream decoder against frames built by hand from the format's definition,
each cross-checked with botocore's own `EventStreamBuffer`."""

from __future__ import annotations

import struct
import zlib

import pytest

from construct.errors import InvalidResponse
from construct.transport.aws_eventstream import EventMessage, EventStreamDecoder
from tests import oracle_bedrock as oracle

ALL_TYPES = [
    ("flag-on", oracle.BOOL_TRUE, None),
    ("flag-off", oracle.BOOL_FALSE, None),
    ("byte", oracle.BYTE, -7),
    ("short", oracle.SHORT, -30000),
    ("int", oracle.INTEGER, 2_000_000_000),
    ("long", oracle.LONG, -(2**60)),
    ("bytes", oracle.BYTES, b"\x00\xffraw"),
    ("text", oracle.STRING, "héllo ✓"),
    ("time", oracle.TIMESTAMP, 1_700_000_000_123),
    ("id", oracle.UUID, oracle.SAMPLE_UUID),
]
EXPECTED = {
    "flag-on": True,
    "flag-off": False,
    "byte": -7,
    "short": -30000,
    "int": 2_000_000_000,
    "long": -(2**60),
    "bytes": b"\x00\xffraw",
    "text": "héllo ✓",
    "time": 1_700_000_000_123,
    "id": oracle.SAMPLE_UUID.bytes,
}


def decode(raw: bytes) -> list[EventMessage]:
    """A whole body through the decoder, as HttpProvider drives it: feed, then flush."""
    decoder = EventStreamDecoder("bedrock", "Amazon Bedrock")
    return decoder.feed(raw) + decoder.flush()


def test_a_frame_laid_out_by_hand():
    payload = b'{"role":"assistant"}'
    raw = oracle.frame([(":event-type", oracle.STRING, "messageStart")], payload)
    header = b"\x0b:event-type\x07\x00\x0cmessageStart"
    total = 12 + len(header) + len(payload) + 4
    assert raw[:8] == struct.pack(">II", total, len(header))
    assert raw[8:12] == struct.pack(">I", zlib.crc32(raw[:8]))
    assert raw[12 : 12 + len(header)] == header
    assert raw[-4:] == struct.pack(">I", zlib.crc32(raw[:-4]))
    [message] = decode(raw)
    assert message.headers == {":event-type": "messageStart"}
    assert message.payload == payload
    assert message.event_type == "messageStart"
    assert message.message_type == "event"  # no :message-type header: an event


def test_every_header_type_decodes_as_botocore_decodes_it():
    raw = oracle.frame(ALL_TYPES, b"payload")
    [message] = decode(raw)
    assert dict(message.headers) == EXPECTED
    [(boto_headers, boto_payload)] = oracle.botocore_frames(raw)
    assert dict(message.headers) == boto_headers
    assert message.payload == boto_payload


def test_empty_headers_and_payload():
    raw = oracle.frame([], b"")
    assert len(raw) == 16
    [message] = decode(raw)
    assert (dict(message.headers), message.payload) == ({}, b"")
    assert oracle.botocore_frames(raw) == [({}, b"")]


FIRST = oracle.event("contentBlockDelta", {"delta": {"text": "Hel"}, "contentBlockIndex": 0})
SECOND = oracle.exception("throttlingException", "slow down")


def two_frames() -> bytes:
    return FIRST + SECOND


def test_every_split_position_of_two_frames():
    raw = two_frames()
    expected = [(dict(m.headers), m.payload) for m in decode(raw)]
    assert expected == oracle.botocore_frames(raw)
    assert len(expected) == 2
    for cut in range(len(raw) + 1):
        decoder = EventStreamDecoder()
        got = decoder.feed(raw[:cut]) + decoder.feed(raw[cut:])
        assert [(dict(m.headers), m.payload) for m in got] == expected, cut
        assert decoder.pending == 0


def test_every_pair_of_split_positions_around_the_boundary():
    raw = two_frames()
    boundary = len(FIRST)
    for a in range(boundary - 14, boundary + 14):
        for b in range(a, len(raw) + 1, 7):
            decoder = EventStreamDecoder()
            got = decoder.feed(raw[:a]) + decoder.feed(raw[a:b]) + decoder.feed(raw[b:])
            assert len(got) == 2, (a, b)


def test_one_byte_at_a_time():
    raw = two_frames()
    decoder = EventStreamDecoder()
    got = []
    arrived_at = []
    for i in range(len(raw)):
        out = decoder.feed(raw[i : i + 1])
        got += out
        arrived_at += [i] * len(out)
    # Each frame comes out with its last byte, not before.
    assert arrived_at == [len(FIRST) - 1, len(raw) - 1]
    assert [m.message_type for m in got] == ["event", "exception"]
    assert got[1].exception_type == "throttlingException"


def test_a_partial_frame_at_the_end_is_dropped_by_flush():
    raw = two_frames()
    decoder = EventStreamDecoder()
    assert len(decoder.feed(raw[:-5])) == 1
    assert decoder.pending > 0
    assert decoder.flush() == []
    assert decoder.pending == 0


@pytest.mark.parametrize(
    ("offset", "says"),
    [(9, "prelude CRC"), (20, "message CRC"), (-1, "message CRC"), (-8, "message CRC")],
)
def test_a_corrupted_frame_is_an_invalid_response(offset, says):
    raw = bytearray(two_frames())
    raw[offset] ^= 0x01
    with pytest.raises(InvalidResponse) as info:
        decode(bytes(raw))
    assert says in str(info.value)
    assert info.value.provider == "bedrock"
    assert info.value.is_retryable
    from botocore.eventstream import ChecksumMismatch

    with pytest.raises(ChecksumMismatch):
        oracle.botocore_frames(bytes(raw))


def test_good_frames_before_a_corrupt_one_come_out_first():
    raw = bytearray(two_frames())
    raw[-1] ^= 0x01  # the second frame's CRC
    decoder = EventStreamDecoder("bedrock")
    [first] = decoder.feed(bytes(raw))
    assert first.payload == decode(FIRST)[0].payload
    with pytest.raises(InvalidResponse, match="message CRC"):
        decoder.flush()
    raw2 = bytearray(two_frames())
    raw2[-1] ^= 0x01
    decoder = EventStreamDecoder()
    assert len(decoder.feed(bytes(raw2))) == 1
    with pytest.raises(InvalidResponse):
        decoder.feed(b"more")


def test_a_corrupted_prelude_fails_before_the_rest_arrives():
    raw = bytearray(two_frames())
    raw[2] ^= 0x40  # the total length, now huge
    with pytest.raises(InvalidResponse, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(raw[:12]))


def _prelude(total: int, headers: int) -> bytes:
    head = struct.pack(">II", total, headers)
    return head + struct.pack(">I", zlib.crc32(head))


@pytest.mark.parametrize(
    ("total", "headers", "says"),
    [
        (10, 0, "too short"),
        (20, 8, "too short"),
        (200_000, 140_000, "headers length"),
        (30 * 1024 * 1024, 0, "payload length"),
    ],
)
def test_impossible_lengths_fail_at_once(total, headers, says):
    with pytest.raises(InvalidResponse, match=says):
        EventStreamDecoder().feed(_prelude(total, headers))


def _with_headers(raw_headers: bytes) -> bytes:
    total = 12 + len(raw_headers) + 4
    head = struct.pack(">II", total, len(raw_headers))
    body = head + struct.pack(">I", zlib.crc32(head)) + raw_headers
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize(
    ("raw_headers", "says"),
    [
        (b"\x01a\x0f", "unknown header value type 15"),
        (b"\x01a\x07\x00\x09short", "cannot be read"),
        (b"\x05abc", "cannot be read"),
        (b"\x01a\x00\x01a\x01", "appears twice"),
        (b"\x01a\x04\x00\x01", "cannot be read"),
        (b"\x01a\x09" + b"\x00" * 3, "cannot be read"),
    ],
)
def test_bad_headers_are_invalid_responses(raw_headers, says):
    with pytest.raises(InvalidResponse, match=says):
        decode(_with_headers(raw_headers))
