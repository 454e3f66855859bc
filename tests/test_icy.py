from streamer.wire.icy import (
    EMPTY_BLOCK,
    MAX_BLOCK,
    IcyCursor,
    IcyReader,
    clean_title,
    metadata_block,
    parse_block,
    sanitize_title,
    split_title,
    stream_title,
)


def test_block_layout():
    block = metadata_block("Artist - Title")
    body = b"StreamTitle='Artist - Title';"
    assert block[0] == -(-len(body) // 16)
    assert len(block) == 1 + block[0] * 16
    assert block[1:].rstrip(b"\x00") == body


def test_sanitise_quote_semicolon_and_controls():
    assert sanitize_title("Rock 'n' Roll';DROP") == "Rock 'n' Roll\u2019;DROP"
    assert sanitize_title("a\x00b\r\nc\td") == "a b c d"
    fields = parse_block(metadata_block("It's 'x'; y")[1:])
    assert fields["StreamTitle"] == "It's 'x\u2019; y"


def test_utf8_kept_and_cut_on_character_boundary():
    title = "Mbuya Nehanda \u2013 \u201cZvichanaka\u201d \U0001f3b6 " * 200
    block = metadata_block(title)
    assert len(block) - 1 <= MAX_BLOCK
    text = block[1:].rstrip(b"\x00")
    text.decode("utf-8")  # must not raise: no split character
    assert text.endswith(b"';")


def test_cursor_places_blocks_every_metaint_and_only_on_change():
    titles = {0: b"A", 25: b"B"}

    def block_at(offset):
        return titles[25] if offset >= 25 else titles[0]

    c = IcyCursor(10, start=0)
    out = c.split(0, 35, block_at)
    assert out == [(0, 10), b"A", (10, 20), EMPTY_BLOCK, (20, 30), b"B", (30, 35)]
    out = c.split(35, 41, block_at)
    assert out == [(35, 40), EMPTY_BLOCK, (40, 41)]


def test_cursor_counter_is_per_listener():
    c = IcyCursor(16000, start=12345)
    assert c.split(12345, 12345 + 16000, lambda o: b"T") == [(12345, 28345), b"T"]


def test_reader_round_trip():
    metaint = 7
    audio = bytes(range(40))
    c = IcyCursor(metaint, 0)
    wire = b""
    for span in c.split(0, 40, lambda o: metadata_block("one" if o < 20 else "two")):
        wire += audio[span[0] : span[1]] if isinstance(span, tuple) else span
    r = IcyReader(metaint)
    got_audio, blocks = b"", []
    for i in range(0, len(wire), 3):  # arbitrary read sizes
        a, b = r.feed(wire[i : i + 3])
        got_audio += a
        blocks += b
    assert got_audio == audio
    assert blocks == [(7, {"StreamTitle": "one"}), (21, {"StreamTitle": "two"})]


def test_a_title_made_from_its_parts_and_split_back():
    assert stream_title("Thomas Mapfumo", "Pidigori") == "Thomas Mapfumo - Pidigori"
    assert stream_title("Thomas Mapfumo", "") == "Thomas Mapfumo" and stream_title("", "Pidigori") == "Pidigori"
    # A whole title is split at its first " - ": songs hold one more often than artists' names.
    assert split_title("Queen - Bohemian Rhapsody - Remastered 2011") == ("Queen", "Bohemian Rhapsody - Remastered 2011")
    assert split_title("Station ID") == ("", "Station ID") and split_title("AC-DC - T.N.T.") == ("AC-DC", "T.N.T.")


def test_invisible_characters_that_reorder_or_hide_a_title_are_taken_out():
    """QA: a posted U+202E (right-to-left override) reached StreamTitle and reversed the rest of
    the title in players; a zero-width space went through too. Joiners (ZWJ, ZWNJ) stay."""
    assert clean_title("News: RTL \u202emark (Test)") == "News: RTL mark (Test)"
    assert clean_title("Zero\u200bwidth \u2066isolate\u2069 \ufeffBOM") == "Zero width isolate BOM"
    assert (
        clean_title("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )  # Persian ZWNJ
