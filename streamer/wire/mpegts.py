"""MPEG-2 Transport Stream muxing for HLS segments: ADTS AAC audio plus timed ID3 metadata.

Sans-IO: (PTS, ADTS frame) and (PTS, ID3 tag) pairs in, the bytes of a segment out. The layout
follows ISO/IEC 13818-1 and Apple's "Timed Metadata for HTTP Live Streaming": the ID3 tags are
PES packets (stream_id 0xBD, private_stream_1) of a stream of type 0x15, which the PMT announces
with a metadata_pointer_descriptor in its program_info loop and a metadata_descriptor in that
stream's ES info, both naming the registered format 'ID3 '.

One `TsMuxer` per variant: its continuity counters carry on from segment to segment, so the
segments of a variant concatenate into one continuous transport stream. PTS are in 90 kHz
ticks; pass them unwrapped (monotonic) and they are written modulo 2**33.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PACKET = 188
PAYLOAD = 184  # a packet after its 4-byte header
PAT_PID, PMT_PID, AUDIO_PID, ID3_PID = 0x0000, 0x1000, 0x0100, 0x0101  # ffmpeg's choices, familiar in analysers
PROGRAM = 1
TRANSPORT_STREAM_ID = 1
STREAM_TYPE_ADTS, STREAM_TYPE_METADATA = 0x0F, 0x15
AUDIO_STREAM_ID, PRIVATE_STREAM_1 = 0xC0, 0xBD
CLOCK = 90_000
PTS_WRAP = 1 << 33
# Audio PES packets group frames up to about 0.3 s, as common muxers do (ffmpeg caps a PES
# payload at 2930 bytes: ~0.37 s at 64 kbit/s): few PES headers, yet a PES starts often enough.
PES_TICKS = 27_000
PES_MAX_PAYLOAD = 0xFFFF - 8  # PES_packet_length counts the 3 flag bytes and the 5-byte PTS too
PCR_MAX_GAP = 9_000  # ISO/IEC 13818-1 wants a PCR at least every 100 ms
# The PCR says audio bytes arrive at the audio's own rate 0.1 s before they play: ahead of every
# frame that needs them, while the decoder's model buffer holds only ~0.1 s (the T-STD's AAC
# buffer is 3584 bytes: 0.1 s of 256 kbit/s).
PCR_LEAD = 9_000
PTS_SLACK = 90  # a frame more than 1 ms off where the previous one ended starts a new PES

ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = (c << 1) ^ 0x04C11DB7 if c & 0x80000000 else c << 1
        table.append(c & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected, no final XOR)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _section(table_id: int, extension: int, body: bytes) -> bytes:
    """A long-form PSI section, version 0, current, one section, CRC at the end."""
    length = 5 + len(body) + 4  # what follows section_length: extension, version, numbers, body, CRC
    head = bytes((table_id, 0xB0 | length >> 8, length & 0xFF)) + extension.to_bytes(2, "big") + b"\xc1\x00\x00"
    section = head + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


# metadata_application_format 0xFFFF + identifier, metadata_format 0xFF + identifier: both 'ID3 '.
_ID3_FORMAT = b"\xff\xffID3 \xffID3 "
# service id 0; no locator record; MPEG_carriage_flags 0 (this transport stream); reserved bits set.
METADATA_POINTER_DESCRIPTOR = bytes((0x25, 15)) + _ID3_FORMAT + b"\x00\x1f" + _u16(PROGRAM)
# service id 0; decoder_config_flags 0 (ID3 describes itself); no DSM-CC; reserved bits set.
METADATA_DESCRIPTOR = bytes((0x26, 13)) + _ID3_FORMAT + b"\x00\x0f"


def _es(stream_type: int, pid: int, descriptors: bytes) -> bytes:
    return bytes((stream_type,)) + _u16(0xE000 | pid) + _u16(0xF000 | len(descriptors)) + descriptors


PAT = _section(0x00, TRANSPORT_STREAM_ID, _u16(PROGRAM) + _u16(0xE000 | PMT_PID))
PMT = _section(
    0x02,
    PROGRAM,
    _u16(0xE000 | AUDIO_PID)  # the PCR travels on the audio PID
    + _u16(0xF000 | len(METADATA_POINTER_DESCRIPTOR))
    + METADATA_POINTER_DESCRIPTOR
    + _es(STREAM_TYPE_ADTS, AUDIO_PID, b"")
    + _es(STREAM_TYPE_METADATA, ID3_PID, METADATA_DESCRIPTOR),
)


def _psi_payload(section: bytes) -> bytes:
    return (b"\x00" + section).ljust(PAYLOAD, b"\xff")  # pointer_field 0, then stuffing


def _headers(pid: int) -> tuple[bytes, ...]:
    """The packet headers of `pid`, indexed by unit_start << 5 | adaptation << 4 | continuity."""
    return tuple(
        bytes((0x47, start << 6 | pid >> 8, pid & 0xFF, 0x10 | adaptation << 5 | cc))
        for start in (0, 1)
        for adaptation in (0, 1)
        for cc in range(16)
    )


_HEADERS = {pid: _headers(pid) for pid in (PAT_PID, PMT_PID, AUDIO_PID, ID3_PID)}
_PAT_PAYLOAD, _PMT_PAYLOAD = _psi_payload(PAT), _psi_payload(PMT)


def pts_bytes(pts: int) -> bytes:
    """The 5-byte PTS field (prefix '0010': PTS only), wrapped at 2**33."""
    pts %= PTS_WRAP
    return bytes((
        0x20 | (pts >> 29) & 0x0E | 1,
        (pts >> 22) & 0xFF,
        (pts >> 14) & 0xFE | 1,
        (pts >> 7) & 0xFF,
        (pts << 1) & 0xFE | 1,
    ))  # fmt: skip


def pes_header(stream_id: int, pts: int, payload_size: int) -> bytes:
    """A PES header with a PTS and data_alignment_indicator set: the payload starts with a unit."""
    if payload_size > PES_MAX_PAYLOAD:
        raise ValueError(f"PES payload of {payload_size} bytes is over {PES_MAX_PAYLOAD}")
    return b"\x00\x00\x01" + bytes((stream_id,)) + _u16(payload_size + 8) + b"\x84\x80\x05" + pts_bytes(pts)


def pcr_bytes(ticks: float) -> bytes:
    """A program_clock_reference: a 33-bit base at 90 kHz, 6 reserved bits, a 9-bit 27 MHz extension."""
    clock27 = round(ticks * 300)
    base, extension = (clock27 // 300) % PTS_WRAP, clock27 % 300
    return (base << 15 | 0x7E00 | extension).to_bytes(6, "big")


def adts_ticks(frame: bytes) -> float:
    """How long an ADTS frame plays, in 90 kHz ticks (1024 samples per raw data block)."""
    if len(frame) < 7 or frame[0] != 0xFF or frame[1] & 0xF6 != 0xF0 or (frame[2] >> 2) & 0x0F >= len(ADTS_RATES):
        raise ValueError("not an ADTS frame")
    blocks = (frame[6] & 0x03) + 1
    return blocks * 1024 * CLOCK / ADTS_RATES[(frame[2] >> 2) & 0x0F]


def _adaptation(fields: bytes, remaining: int) -> bytes:
    """The adaptation field (length byte first) for a packet carrying `fields` (flags byte and
    PCR) with `remaining` PES bytes left: stuffed so that a short last payload fills the packet."""
    if not fields:
        need = PAYLOAD - remaining
        if need <= 0:
            return b""
        if need == 1:
            return b"\x00"  # a zero-length adaptation field is one byte of stuffing
        fields = b"\x00"
    stuffing = max(0, PAYLOAD - 1 - len(fields) - remaining)
    return bytes((len(fields) + stuffing,)) + fields + b"\xff" * stuffing


@dataclass(slots=True)
class _Pes:
    pts: int
    ticks: float = 0.0
    size: int = 0
    frames: list[bytes] = field(default_factory=list)


def _group(frames: Sequence[tuple[int, bytes]]) -> list[_Pes]:
    """Consecutive frames into PES packets of about PES_TICKS; a jump in PTS starts a new one,
    since a PES carries only its first frame's PTS and the rest play back to back."""
    groups: list[_Pes] = []
    current: _Pes | None = None
    for pts, frame in frames:
        ticks = adts_ticks(frame)
        if (
            current is None
            or current.ticks >= PES_TICKS
            or current.size + len(frame) > PES_MAX_PAYLOAD
            or abs(pts - (current.pts + current.ticks)) > PTS_SLACK
        ):
            current = _Pes(pts)
            groups.append(current)
        current.ticks += ticks
        current.size += len(frame)
        current.frames.append(frame)
    return groups


class TsMuxer:
    """The transport stream of one variant, a segment at a time. The continuity counters and the
    time of the last PCR carry on across segments."""

    def __init__(self) -> None:
        self._cc = dict.fromkeys(_HEADERS, 0)
        self._last_pcr = float("-inf")

    def state(self) -> dict:
        """What carries on across segments, as plain values (kept across a restart)."""
        return {"cc": {str(pid): cc for pid, cc in self._cc.items()}, "last_pcr": self._last_pcr if self._last_pcr > 0 else None}

    def resume(self, state: dict) -> None:
        self._cc.update({int(pid): int(cc) & 0x0F for pid, cc in state["cc"].items() if int(pid) in self._cc})
        self._last_pcr = float(state["last_pcr"]) if state.get("last_pcr") is not None else float("-inf")

    def segment(self, frames: Sequence[tuple[int, bytes]], metadata: Sequence[tuple[int, bytes]] = ()) -> bytes:
        """A segment: PAT, PMT, then the audio PES packets, each ID3 tag's PES placed just before
        the audio PES during which it is to be shown (or at the end, after all the audio)."""
        parts: list[bytes | memoryview] = []
        self._psi(parts, PAT_PID, _PAT_PAYLOAD)
        self._psi(parts, PMT_PID, _PMT_PAYLOAD)
        pending = sorted(metadata, key=lambda item: item[0])
        i = 0
        for pes in _group(frames):
            while i < len(pending) and pending[i][0] < pes.pts + pes.ticks:
                self._metadata(parts, *pending[i])
                i += 1
            data = pes_header(AUDIO_STREAM_ID, pes.pts, pes.size) + b"".join(pes.frames)
            self._packetize(parts, AUDIO_PID, data, (pes.pts - PCR_LEAD, pes.ticks / len(data)))
        for pts, tag in pending[i:]:
            self._metadata(parts, pts, tag)
        return b"".join(parts)

    def _psi(self, parts: list[bytes | memoryview], pid: int, payload: bytes) -> None:
        cc = self._cc[pid]
        parts += (_HEADERS[pid][1 << 5 | cc], payload)
        self._cc[pid] = (cc + 1) & 0x0F

    def _metadata(self, parts: list[bytes | memoryview], pts: int, tag: bytes) -> None:
        self._packetize(parts, ID3_PID, pes_header(PRIVATE_STREAM_1, pts, len(tag)) + tag, None)

    def _packetize(self, parts: list[bytes | memoryview], pid: int, pes: bytes, clock: tuple[float, float] | None) -> None:
        """Cut one PES into packets. With a `clock` (arrival time of the PES's first byte, ticks
        per byte), the first packet carries a PCR and the random_access_indicator (every ADTS
        frame can be decoded on its own), and later ones a PCR whenever the next packet would
        otherwise come PCR_MAX_GAP or more after the last PCR."""
        headers, cc = _HEADERS[pid], self._cc[pid]
        view, pos, size = memoryview(pes), 0, len(pes)
        while pos < size:
            fields = b""
            if clock is not None:
                start, per_byte = clock
                if pos == 0 or start + (pos + PAYLOAD) * per_byte - self._last_pcr >= PCR_MAX_GAP:
                    self._last_pcr = start + pos * per_byte
                    fields = (b"\x50" if pos == 0 else b"\x10") + pcr_bytes(self._last_pcr)
            adaptation = _adaptation(fields, size - pos)
            take = PAYLOAD - len(adaptation)
            parts.append(headers[(pos == 0) << 5 | bool(adaptation) << 4 | cc])
            if adaptation:
                parts.append(adaptation)
            parts.append(view[pos : pos + take])
            pos += take
            cc = (cc + 1) & 0x0F
        self._cc[pid] = cc
