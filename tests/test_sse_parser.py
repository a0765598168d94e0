import pytest

from probe.sse import EventStreamTooLarge, ServerSentEvent, SSEParser


def test_it_parses_events_split_across_chunks_and_line_endings() -> None:
    parser = SSEParser()
    assert parser.feed(b'event: message\r\ndata: {"a"') == []
    assert parser.feed(b": 1}\r") == []
    assert parser.feed(b"\n\r\n") == [ServerSentEvent("message", '{"a": 1}')]


def test_it_joins_multi_line_data_and_skips_comments() -> None:
    events = SSEParser().feed(b":ping\ndata: one\ndata:two\nid: 7\n\nevent: other\ndata: x\n\n")
    assert events == [ServerSentEvent("message", "one\ntwo", "7"), ServerSentEvent("other", "x", "7")]


def test_garbage_bytes_do_not_raise() -> None:
    assert SSEParser().feed(b"\xff\xfe\x00\ndata\n\n") == [ServerSentEvent("message", "")]


def test_an_unterminated_line_fed_in_pieces_stops_at_the_cap() -> None:
    parser = SSEParser(max_line=1000)
    with pytest.raises(EventStreamTooLarge, match="longer than 1000"):
        for _ in range(100):
            parser.feed(b"data: " + b"x" * 94)  # never a line end
            assert parser.buffered <= 1000
