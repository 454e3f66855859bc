"""Fragmented MP4 (CMAF) for HLS: AAC from ADTS frames, timed ID3 in 'emsg' boxes.

Sans-IO: the same (PTS, ADTS frame) and (PTS, ID3 tag) pairs `TsMuxer.segment` takes, the bytes of
an init segment and of media segments out. Box layouts follow ISO/IEC 14496-12 (the file format),
14496-14 and 14496-3 (the 'esds' and its AudioSpecificConfig) and ISO/IEC 23009-1's event message
box as the AOM's "Carriage of ID3 Timed Metadata in CMAF" uses it: version 1, scheme
https://aomedia.org/emsg/ID3, the whole ID3v2.4 tag as message_data (hls.js, Safari and
ExoPlayer read it as the ID3 of timed metadata).

One track (ID 1) whose timescale is the AAC sample rate, so a frame lasts exactly 1024 ticks.
`init_segment` derives everything from one ADTS header; a `Fmp4Muxer` per variant keeps the
fragment sequence number and the decode time running, so that a segment whose first frame
follows on from the previous segment's last (within 1 ms, in 90 kHz PTS) starts exactly where
that one ended, whatever the rounding of the PTS. A jump in PTS starts a new fragment (moof and
mdat) at the new time, in the same segment if need be.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .mpegts import ADTS_RATES, CLOCK

TRACK_ID = 1
SAMPLES_PER_FRAME = 1024  # one raw data block of AAC
PTS_SLACK = 90  # a frame within 1 ms of where the previous one ended follows on from it
ID3_SCHEME = "https://aomedia.org/emsg/ID3"
UNKNOWN_DURATION = 0xFFFFFFFF  # event_duration of an ID3 tag, which has none (AOM spec 2.2.3)
# iso6: the file format with 'tfdt' and default-base-is-moof; cmfc: CMAF's structural brand;
# aid3: ID3 in emsg (the AOM spec's brand); mp41: what older readers look for.
FTYP_BRANDS = (b"iso6", b"cmfc", b"aid3", b"mp41")
STYP_BRANDS = (b"msdh",)  # a media segment of the general format (ISO/IEC 23009-1 6.3.4.2)
CHANNELS = (0, 1, 2, 3, 4, 5, 6, 8)  # by ADTS channel_configuration; 0 (a PCE in the stream) is refused
OBJECT_TYPE_AUDIO = 0x40  # objectTypeIndication of ISO/IEC 14496-3 audio
AUDIO_STREAM = 0x05 << 2 | 1  # streamType audio, upStream 0, reserved 1
TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
TRUN_DATA_OFFSET, TRUN_DURATION, TRUN_SIZE = 0x000001, 0x000100, 0x000200
MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)  # the identity


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *payload)


@dataclass(frozen=True, slots=True)
class AacConfig:
    """What an ADTS header says about the stream (ISO/IEC 14496-3 1.A.2.2.1)."""

    object_type: int  # audioObjectType: ADTS profile + 1 (2 = AAC-LC)
    rate_index: int
    channel_config: int

    @property
    def rate(self) -> int:
        return ADTS_RATES[self.rate_index]

    @property
    def channels(self) -> int:
        return CHANNELS[self.channel_config]

    @property
    def codecs(self) -> str:
        """The RFC 6381 codecs string, as an HLS master playlist's CODECS says it."""
        return f"mp4a.40.{self.object_type}"

    @property
    def audio_specific_config(self) -> bytes:
        """AudioSpecificConfig with a GASpecificConfig of 1024-sample frames, no core coder, no extension."""
        return (self.object_type << 11 | self.rate_index << 7 | self.channel_config << 3).to_bytes(2, "big")


def _check_adts(frame: bytes) -> None:
    if len(frame) < 7 or frame[0] != 0xFF or frame[1] & 0xF6 != 0xF0:
        raise ValueError("not an ADTS frame")
    if ((frame[3] & 0x03) << 11 | frame[4] << 3 | frame[5] >> 5) != len(frame):
        raise ValueError(f"ADTS frame_length does not match the {len(frame)} bytes given")
    if frame[6] & 0x03:
        raise ValueError("ADTS frames of several raw data blocks are not supported")


def aac_config(adts_frame: bytes) -> AacConfig:
    """The stream's configuration from an ADTS frame's header."""
    _check_adts(adts_frame)
    rate_index = (adts_frame[2] >> 2) & 0x0F
    channel_config = (adts_frame[2] & 0x01) << 2 | adts_frame[3] >> 6
    if rate_index >= len(ADTS_RATES):
        raise ValueError(f"ADTS sampling_frequency_index {rate_index} is reserved")
    if channel_config == 0:
        raise ValueError("ADTS channel_configuration 0 (a program config element) is not supported")
    return AacConfig((adts_frame[2] >> 6) + 1, rate_index, channel_config)


def _descriptor(tag: int, *payload: bytes) -> bytes:
    """An MPEG-4 descriptor (ISO/IEC 14496-1 8.3.3): tag, size in 7-bit groups, payload."""
    body = b"".join(payload)
    size, length = len(body), [len(body) & 0x7F]
    while size := size >> 7:
        length.insert(0, 0x80 | size & 0x7F)
    return bytes((tag, *length)) + body


def _esds(config: AacConfig, bitrate: int) -> bytes:
    buffer_size = 6144 // 8 * config.channels  # the AAC decoder's input buffer: 6144 bits a channel
    decoder_config = _descriptor(
        0x04,
        bytes((OBJECT_TYPE_AUDIO, AUDIO_STREAM)) + buffer_size.to_bytes(3, "big"),
        struct.pack(">II", bitrate, bitrate),  # maxBitrate, avgBitrate (0: not known)
        _descriptor(0x05, config.audio_specific_config),
    )
    # ES_ID 0 as stored in a file (ISO/IEC 14496-14 3.1.2), no flags; SLConfig predefined 2 (MP4).
    return full_box(b"esds", 0, 0, _descriptor(0x03, b"\x00\x00\x00", decoder_config, _descriptor(0x06, b"\x02")))


def _mp4a(config: AacConfig, bitrate: int) -> bytes:
    rate = config.rate if config.rate < 1 << 16 else 0  # 16.16 fixed point; the ASC has the real rate
    return box(
        b"mp4a",
        bytes(6) + struct.pack(">H", 1),  # reserved, data_reference_index
        struct.pack(">8xHHHHI", config.channels, 16, 0, 0, rate << 16),
        _esds(config, bitrate),
    )


def _stbl(config: AacConfig, bitrate: int) -> bytes:
    return box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _mp4a(config, bitrate)),
        full_box(b"stts", 0, 0, struct.pack(">I", 0)),  # no samples here: they are in the fragments
        full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )


def _language(code: str) -> int:
    return sum((ord(c) - 0x60) << shift for c, shift in zip(code, (10, 5, 0), strict=True))


def _trak(config: AacConfig, bitrate: int) -> bytes:
    tkhd = struct.pack(">IIIIIQhhhH", 0, 0, TRACK_ID, 0, 0, 0, 0, 1, 0x0100, 0) + MATRIX + struct.pack(">II", 0, 0)
    minf = box(
        b"minf",
        full_box(b"smhd", 0, 0, struct.pack(">hH", 0, 0)),
        box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1))),  # in this file
        _stbl(config, bitrate),
    )
    mdia = box(
        b"mdia",
        full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, config.rate, 0, _language("und"), 0)),
        full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"soun"), b"SoundHandler\x00"),
        minf,
    )
    return box(b"trak", full_box(b"tkhd", 0, 0x000003, tkhd), mdia)  # enabled, in the movie


def _brands(kind: bytes, brands: tuple[bytes, ...]) -> bytes:
    return box(kind, brands[0], struct.pack(">I", 0), *brands)


def init_segment(adts_frame: bytes, *, bitrate: int = 0) -> bytes:
    """The init segment (EXT-X-MAP) of a stream whose frames look like `adts_frame`: ftyp and a
    moov with one audio track and no samples, its fragments announced by mvex/trex. `bitrate`
    (bits per second, 0 if not known) goes into the esds."""
    config = aac_config(adts_frame)
    mvhd = struct.pack(">IIIIIH10x", 0, 0, config.rate, 0, 0x00010000, 0x0100) + MATRIX + struct.pack(">24xI", TRACK_ID + 1)
    trex = struct.pack(">IIIII", TRACK_ID, 1, SAMPLES_PER_FRAME, 0, 0)  # description 1, 1024 ticks, sync samples
    moov = box(b"moov", full_box(b"mvhd", 0, 0, mvhd), _trak(config, bitrate), box(b"mvex", full_box(b"trex", 0, 0, trex)))
    return _brands(b"ftyp", FTYP_BRANDS) + moov


STYP = _brands(b"styp", STYP_BRANDS)


def emsg(pts: int, tag: bytes, duration: int = UNKNOWN_DURATION) -> bytes:
    """An event message box carrying an ID3 tag to be shown at `pts` for `duration` (90 kHz); its
    id is made from the time and the tag, so the same tag at the same time is the same event after
    a restart."""
    if pts < 0:
        raise ValueError(f"negative metadata PTS {pts}")
    event_id = zlib.crc32(pts.to_bytes(8, "big") + tag)
    fields = struct.pack(">IQII", CLOCK, pts, min(max(duration, 1), UNKNOWN_DURATION), event_id)
    return full_box(b"emsg", 1, 0, fields, ID3_SCHEME.encode() + b"\x00", b"\x00", tag)


def fragment(sequence: int, decode_time: int, samples: Sequence[bytes]) -> bytes:
    """moof and mdat for raw AAC frames that play back to back from `decode_time` (samples)."""
    entries = b"".join(struct.pack(">II", SAMPLES_PER_FRAME, len(s)) for s in samples)
    flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE

    def moof(data_offset: int) -> bytes:
        trun = full_box(b"trun", 0, flags, struct.pack(">Ii", len(samples), data_offset), entries)
        tfhd = full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, struct.pack(">I", TRACK_ID))
        traf = box(b"traf", tfhd, full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time)), trun)
        return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), traf)

    head = moof(len(moof(0)) + 8)  # data_offset: from the moof's first byte to the mdat's payload
    return head + box(b"mdat", *samples)


@dataclass(slots=True)
class _Run:
    decode_time: int
    samples: list[bytes]


class Fmp4Muxer:
    """The media segments of one variant. The fragment sequence number and the decode time carry
    on across segments; every frame must have the configuration of the first one seen (the one
    the init segment was made from): a stream that changes needs a new init segment and muxer."""

    def __init__(self) -> None:
        self._config: AacConfig | None = None
        self._header: bytes = b""  # the configuration bits of the first frame's header
        self._sequence = 0
        self._end: tuple[float, int] | None = None  # (PTS, decode time) where the last frame ended

    def state(self) -> dict:
        """What carries on across segments, as plain values (kept across a restart; the decode time
        follows from the PTS, the configuration from the next frame)."""
        return {"sequence": self._sequence}

    def resume(self, state: dict) -> None:
        self._sequence = int(state["sequence"])

    def segment(self, frames: Sequence[tuple[int, bytes]], metadata: Sequence[tuple[int, bytes]] = ()) -> bytes:
        """A media segment: styp, an emsg per ID3 tag (in time order; the AOM spec wants their
        times within the segment), then a moof and mdat per run of frames that follow on.

        Each event lasts until the next tag or the segment's end, never open-ended: hls.js closes
        an open cue only when a later one arrives, so after a variant switch reloads an older
        segment its title cue stayed active beside the current one (a stale title shown again)."""
        runs, end = self._runs(frames)
        tags = sorted(metadata, key=lambda item: item[0])
        ends = [pts for pts, _ in tags[1:]] + [round(end[0]) if end is not None else None]
        boxes = [STYP]
        for (pts, tag), until in zip(tags, ends, strict=False):  # one end more than tags when none
            boxes.append(emsg(pts, tag, until - pts if until is not None and until > pts else UNKNOWN_DURATION))
        for k, run in enumerate(runs):
            boxes.append(fragment(self._sequence + 1 + k, run.decode_time, run.samples))
        self._sequence += len(runs)
        self._end = end
        return b"".join(boxes)

    def _runs(self, frames: Sequence[tuple[int, bytes]]) -> tuple[list[_Run], tuple[float, int] | None]:
        """The frames' raw data blocks in runs that play back to back, and where the last ends."""
        runs: list[_Run] = []
        end = self._end
        for pts, frame in frames:
            config = self._config_of(frame)
            follows = end is not None and abs(pts - end[0]) <= PTS_SLACK
            if not runs or not follows:
                decode_time = end[1] if end is not None and follows else (pts * config.rate + CLOCK // 2) // CLOCK
                if decode_time < 0:
                    raise ValueError(f"negative PTS {pts}")
                runs.append(_Run(decode_time, []))
            run = runs[-1]
            run.samples.append(frame[7 if frame[1] & 0x01 else 9 :])  # the header, and its CRC if any
            end = (pts + SAMPLES_PER_FRAME * CLOCK / config.rate, run.decode_time + SAMPLES_PER_FRAME * len(run.samples))
        return runs, end

    def _config_of(self, frame: bytes) -> AacConfig:
        _check_adts(frame)
        header = bytes((frame[2] & 0xFD, frame[3] & 0xC0))  # profile, rate, channels
        if self._config is None:
            self._config, self._header = aac_config(frame), header
        elif header != self._header:
            raise ValueError("the ADTS configuration changed: the stream needs a new init segment")
        return self._config
