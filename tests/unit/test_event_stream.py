"""The server-sent events decoder against the HTML standard's interpretation rules, and against any
split of the same bytes into network reads."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_server.errors import UpstreamProtocolError
from mcp_server.event_stream import EventStreamDecoder, ServerSentEvent


def _decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = EventStreamDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_fields_types_ids_and_the_default_type() -> None:
    body = b"data: one\n\nevent: done\nid: 7\nretry: 1500\ndata: two\n\ndata: three\n\n"
    assert _decode(body) == [
        ServerSentEvent("message", "one", "", None),
        ServerSentEvent("done", "two", "7", 1500),
        ServerSentEvent("message", "three", "7", None),  # the last id stays; the type and retry do not
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_the_standard_allows(newline: bytes) -> None:
    body = newline.join([b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert [e.data for e in _decode(body)] == ["a\nb", "c"]


def test_values_comments_and_unknown_fields() -> None:
    body = b": a comment\ndata:no space\ndata:  two spaces\ndata\nfoo: bar\n\n"
    assert _decode(body) == [ServerSentEvent(data="no space\n two spaces\n")]


def test_events_without_data_are_not_dispatched() -> None:
    assert _decode(b"event: ping\n\n: keep-alive\n\nid: 3\n\n") == []
    assert _decode(b"data:\n\n") == [ServerSentEvent(data="")]  # an empty data line is data


def test_ids_with_nul_and_retries_that_are_not_digits_are_ignored() -> None:
    body = b"id: 1\ndata: a\n\nid: x\x00y\nretry: 1e3\ndata: b\n\n"
    assert _decode(body) == [ServerSentEvent(data="a", id="1"), ServerSentEvent(data="b", id="1")]


def test_a_leading_bom_is_dropped_once_and_invalid_utf8_is_replaced() -> None:
    assert _decode(b"\xef\xbb", b"\xbfdata: x\n\n") == [ServerSentEvent(data="x")]
    assert _decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []  # a second BOM makes the field name unknown
    assert _decode(b"data: \xff\n\n") == [ServerSentEvent(data="\ufffd")]


def test_an_event_cut_off_by_the_end_of_the_stream_is_not_dispatched() -> None:
    assert _decode(b"data: whole\n\ndata: cut") == [ServerSentEvent(data="whole")]
    assert _decode(b"data: whole\n\ndata: cut\n") == [ServerSentEvent(data="whole")]


def test_an_event_larger_than_the_limit_is_refused() -> None:
    decoder = EventStreamDecoder(max_event_characters=100)
    assert decoder.feed(b"data: " + b"x" * 80 + b"\n\n") != []
    with pytest.raises(UpstreamProtocolError, match="over 100 characters"):
        decoder.feed(b"data: " + b"x" * 60 + b"\ndata: " + b"y" * 60 + b"\n")
    endless_line = EventStreamDecoder(max_event_characters=100)
    for _ in range(10):
        endless_line.feed(b"z" * 10)  # a line that never ends counts too
    with pytest.raises(UpstreamProtocolError):
        endless_line.feed(b"z")


STREAM = (
    '\ufeffdata: {"delta": "Grüß"}\r\n\r\n: ping\n\nevent: done\r\nid: 9\rdata: a\ndata: b\n\ndata: €\r\rdata: last\n\n'
).encode()


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_into_reads_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]
    assert (
        _decode(*chunks)
        == _decode(STREAM)
        == [
            ServerSentEvent(data='{"delta": "Grüß"}'),
            ServerSentEvent("done", "a\nb", "9"),
            ServerSentEvent(data="€", id="9"),
            ServerSentEvent(data="last", id="9"),
        ]
    )
