"""ID3v2 tags for HLS timed metadata: a small ID3v2.4 writer (UTF-8 text frames) and a reader.

Pure: values in, bytes out, and back. HLS players (Safari/AVPlayer, hls.js, ExoPlayer) read the
ID3 tag carried in each metadata PES packet of a segment; `id3_tag` makes one with the title,
artist and any TXXX fields. `parse_id3` reads ID3v2.3 and v2.4 tags (ours and other encoders')
into `{frame id: text}` for the tests and for our own clients.
"""

from __future__ import annotations

import zlib

from .text import MAX_TITLE_CHARS

HEADER_SIZE = 10
MAX_SIZE = (1 << 28) - 1  # the largest a synchsafe 28-bit size can say
UTF8 = 3  # ID3v2.4 text encoding byte
ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}

# Tag header flags, then v2.4 and v2.3 frame format flags.
TAG_UNSYNC, TAG_EXTENDED, TAG_FOOTER = 0x80, 0x40, 0x10
V24_GROUP, V24_COMPRESSED, V24_ENCRYPTED, V24_UNSYNC, V24_LENGTH = 0x40, 0x08, 0x04, 0x02, 0x01
V23_COMPRESSED, V23_ENCRYPTED, V23_GROUP = 0x80, 0x40, 0x20


def synchsafe(n: int) -> bytes:
    """`n` as four 7-bit bytes: a size that can never look like an MPEG sync word."""
    if not 0 <= n <= MAX_SIZE:
        raise ValueError(f"ID3 size out of range: {n}")
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def unsynchsafe(b: bytes) -> int:
    if any(x & 0x80 for x in b):
        raise ValueError("not a synchsafe integer")
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _text(s: str) -> bytes:
    # A NUL would split the value (v2.4 uses it between multiple values); lone surrogates
    # (undecodable file names) become U+FFFD rather than an exception mid-stream.
    return s[:MAX_TITLE_CHARS].replace("\x00", "").encode("utf-8", "replace")


def _frame(frame_id: str, body: bytes) -> bytes:
    return frame_id.encode("ascii") + synchsafe(len(body)) + b"\x00\x00" + body


def id3_tag(title: str, artist: str = "", extra: dict[str, str] | None = None) -> bytes:
    """An ID3v2.4 tag: TIT2, TPE1 when `artist` is given, and a TXXX frame per `extra` item.

    Text is UTF-8 (encoding 3), which never contains 0xFF, so the tag needs no unsynchronisation
    and its frames no padding or terminators.
    """
    frames = [_frame("TIT2", bytes((UTF8,)) + _text(title))]
    if artist:
        frames.append(_frame("TPE1", bytes((UTF8,)) + _text(artist)))
    for description, value in (extra or {}).items():
        frames.append(_frame("TXXX", bytes((UTF8,)) + _text(description) + b"\x00" + _text(value)))
    body = b"".join(frames)
    return b"ID3\x04\x00\x00" + synchsafe(len(body)) + body


def tag_length(data: bytes) -> int:
    """The length in bytes of the ID3v2 tag at the start of `data`, header and footer included."""
    if len(data) < HEADER_SIZE or data[:3] != b"ID3" or data[3] == 0xFF or data[4] == 0xFF:
        raise ValueError("not an ID3v2 tag")
    footer = HEADER_SIZE if data[3] == 4 and data[5] & TAG_FOOTER else 0
    return HEADER_SIZE + unsynchsafe(data[6:10]) + footer


def _resync(data: bytes) -> bytes:
    """Undo unsynchronisation: the 0x00 stuffed after every 0xFF is dropped."""
    return data.replace(b"\xff\x00", b"\xff")


def parse_id3(data: bytes) -> dict[str, str]:
    """The text frames of the ID3v2.3/v2.4 tag at the start of `data` (anything after the tag is
    ignored): frame id → text, TXXX as "TXXX:description", URL frames (W...) as their URL.
    Multiple values of one frame are joined with "/"; the first frame of an id wins."""
    end = tag_length(data)
    version, flags = data[3], data[5]
    if version not in (3, 4):
        raise ValueError(f"unsupported ID3v2.{version} tag")
    if len(data) < end:
        raise ValueError(f"truncated ID3 tag: {len(data)} of {end} bytes")
    body = data[HEADER_SIZE : end - (HEADER_SIZE if version == 4 and flags & TAG_FOOTER else 0)]
    if version == 3 and flags & TAG_UNSYNC:
        body = _resync(body)  # v2.3 unsynchronises the tag as a whole, v2.4 frame by frame
    pos = _skip_extended_header(body, version) if flags & TAG_EXTENDED else 0
    out: dict[str, str] = {}
    while pos + HEADER_SIZE <= len(body) and body[pos] != 0:  # a zero byte starts the padding
        frame_id = body[pos : pos + 4].decode("latin-1")
        if not (frame_id.isalnum() and frame_id.upper() == frame_id):
            break  # not a frame id: padding that does not start with zero, or garbage
        raw = body[pos + 4 : pos + 8]
        size = unsynchsafe(raw) if version == 4 else int.from_bytes(raw, "big")
        payload = _frame_payload(body[pos + 10 : pos + 10 + size], body[pos + 9], version, bool(flags & TAG_UNSYNC))
        pos += HEADER_SIZE + size
        item = _decode_frame(frame_id, payload) if payload is not None else None
        if item is not None:
            out.setdefault(*item)
    return out


def _skip_extended_header(body: bytes, version: int) -> int:
    if len(body) < 4:
        raise ValueError("truncated ID3 extended header")
    if version == 4:
        return unsynchsafe(body[:4])  # its size counts itself
    return 4 + int.from_bytes(body[:4], "big")


def _frame_payload(payload: bytes, fmt: int, version: int, tag_unsync: bool) -> bytes | None:
    """A frame's data with grouping, length and unsynchronisation undone; None if unreadable."""
    if version == 3:
        if fmt & V23_ENCRYPTED:
            return None
        if fmt & V23_GROUP:
            payload = payload[1:]
        return _inflate(payload[4:]) if fmt & V23_COMPRESSED else payload
    if fmt & V24_ENCRYPTED:
        return None
    if fmt & V24_GROUP:
        payload = payload[1:]
    if fmt & V24_LENGTH:
        payload = payload[4:]
    if fmt & V24_UNSYNC or tag_unsync:
        payload = _resync(payload)
    return _inflate(payload) if fmt & V24_COMPRESSED else payload


def _inflate(payload: bytes) -> bytes | None:
    try:
        return zlib.decompress(payload)
    except zlib.error:
        return None


def _decode_frame(frame_id: str, payload: bytes) -> tuple[str, str] | None:
    if frame_id == "TXXX" or frame_id == "WXXX":
        if not payload or payload[0] not in ENCODINGS:
            return None
        description, value = _split_terminated(payload[1:], payload[0])
        text = _decode(value, payload[0]) if frame_id == "TXXX" else _strip(value.decode("latin-1"))
        return f"{frame_id}:{_decode(description, payload[0])}", text
    if frame_id.startswith("T"):
        if not payload or payload[0] not in ENCODINGS:
            return None
        return frame_id, _decode(payload[1:], payload[0])
    if frame_id.startswith("W"):
        return frame_id, _strip(payload.decode("latin-1"))
    return None  # binary frames (APIC, PRIV, ...) are not text


def _split_terminated(data: bytes, encoding: int) -> tuple[bytes, bytes]:
    """(the string up to its terminator, the rest): UTF-16 ends with an aligned 00 00."""
    if encoding in (1, 2):
        for i in range(0, len(data) - 1, 2):
            if data[i] == 0 and data[i + 1] == 0:
                return data[:i], data[i + 2 :]
        return data, b""
    head, _, tail = data.partition(b"\x00")
    return head, tail


def _decode(data: bytes, encoding: int) -> str:
    if encoding == 1 and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        data = b"\xff\xfe" + data  # a BOM-less UTF-16 string: ID3 writers mean little-endian
    return _strip(data.decode(ENCODINGS[encoding], "replace").replace("\ufeff", ""))


def _strip(text: str) -> str:
    return "/".join(v for v in text.split("\x00") if v) if "\x00" in text else text
