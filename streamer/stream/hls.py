"""HLS: AAC-LC in MPEG-TS (or fragmented MP4) segments cut on the station's clock, served from memory.

Every variant's encoder hands its ADTS frames here with the station sample each starts at.
Segment k of every variant covers the same wall-clock interval [k·D, (k+1)·D) — the station's
timeline maps samples to wall time — so a player switching variants never hears a jump, and
segment numbers go on from where they were across a restart. A segment is published when its
last sample airs (the Icecast streams carry it at the same moment), so HLS and now playing
agree. Titles travel as timed ID3: at the PTS where a title starts, and the current one at
each segment's start for players that join late.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire.fmp4 import Fmp4Muxer, init_segment
from ..wire.hls import Segment, Variant, master_playlist, media_playlist
from ..wire.id3 import id3_tag
from ..wire.mpegts import TsMuxer

CLOCK = 90_000  # MPEG-TS time base (fMP4's emsg and our PTS use it too)
# What a variant's segments carry per second over the codec's bitrate: (x bitrate, + bit/s, + bits
# per segment). TS adds ADTS and PES headers, packet headers and stuffing (~8 kbit/s) and a
# PAT, PMT and ID3 tag per segment; fMP4 a size per frame, a moof and an emsg per segment.
# Measured with the shipped music at 32-192 kbit/s and 2 and 4 s segments; the encoder's ABR
# swings ~5 % between segments, so the peak (BANDWIDTH) allows 10 %. Checked per segment by
# tests/test_formats.py (before, 48 kbit/s TS segments peaked 13 % over the declared 52,800).
PEAK = {"ts": (1.10, 9000, 6000), "fmp4": (1.10, 2000, 4000)}
AVERAGE = {"ts": (1.03, 7500, 6000), "fmp4": (1.01, 1000, 6000)}
EXTENSION = {"ts": "ts", "fmp4": "m4s"}
INIT = "init.mp4"  # an fMP4 variant's initialisation segment, beside its playlist


@dataclass(slots=True)
class Built:
    """A segment being gathered, then served."""

    seq: int
    start: float  # wall time of its first sample
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # (PTS, ADTS frame)
    tags: list[tuple[int, bytes]] = field(default_factory=list)  # (PTS, ID3 tag)
    samples: int = 0  # at the variant's output rate
    data: bytes = b""
    discontinuity: bool = False


class HlsVariant:
    def __init__(
        self, name: str, bitrate: int, out_rate: int, seconds: float, window: int, wall_of: Callable[[int], float], container: str = "ts"
    ) -> None:
        self.name = name
        self.container = container
        self.extension = EXTENSION[container]
        self.init = b""  # fMP4: the initialisation segment, made from the first frame
        self.bitrate = bitrate
        self.out_rate = out_rate
        self.seconds = seconds
        self.window = window
        self.wall_of = wall_of  # station sample → wall time it airs
        self.muxer: TsMuxer | Fmp4Muxer = TsMuxer() if container == "ts" else Fmp4Muxer()
        self.current: Built | None = None
        self.ready: deque[Built] = deque()  # finished, waiting for their last sample to air
        self.segments: deque[Built] = deque(maxlen=window + 2)  # published (a couple kept past the window)
        self.title = ""
        self._first = True
        self.discontinuity_sequence = 0  # EXT-X-DISCONTINUITY tags that have left the window (RFC 8216 4.3.3.3)

    def frame(self, frame: bytes, samples: int, title: str | None, start_sample: int) -> None:
        """An ADTS frame from the variant's encoder (the sink it is given)."""
        wall = self.wall_of(start_sample)
        if self.container == "fmp4" and not self.init:
            self.init = init_segment(frame, bitrate=self.bitrate * 1000)
        seq = math.floor(wall / self.seconds)
        if self.current is None or seq > self.current.seq:
            if self.current is not None:
                self._finish(self.current)
            self.current = Built(seq, wall, discontinuity=self._first)
            self._first = False
            self.current.tags.append((round(wall * CLOCK), id3_tag(self.title)))  # a late joiner gets the title
        pts = round(wall * CLOCK)
        if title is not None:
            self.title = title
            self.current.tags.append((pts, id3_tag(title)))
        self.current.frames.append((pts, frame))
        self.current.samples += samples

    def _finish(self, built: Built) -> None:
        built.data = self.muxer.segment(built.frames, built.tags)
        built.frames, built.tags = [], []
        self.ready.append(built)

    def publish(self, now: float) -> None:
        """Segments whose last sample has aired go into the playlist."""
        while self.ready and self.ready[0].start + self.ready[0].samples / self.out_rate <= now:
            self.segments.append(self.ready.popleft())
            if len(self.segments) > self.window and self.segments[-self.window - 1].discontinuity:
                self.discontinuity_sequence += 1  # that segment has just left the live window

    @property
    def live(self) -> list[Built]:
        return list(self.segments)[-self.window :]

    def playlist(self) -> str:
        live = self.live
        segments = [Segment(f"{b.seq}.{self.extension}", b.samples / self.out_rate, b.start, b.discontinuity) for b in live]
        init = INIT if self.container == "fmp4" else None
        return media_playlist(segments, self.seconds, live[0].seq if live else 0, self.discontinuity_sequence, map_uri=init)

    def segment(self, seq: int) -> Built | None:
        return next((b for b in self.segments if b.seq == seq), None)

    def variant(self) -> Variant:
        def rate(model: tuple[float, int, int]) -> int:
            scale, per_second, per_segment = model
            return round(self.bitrate * 1000 * scale + per_second + per_segment / self.seconds)

        return Variant(f"{self.name}/live.m3u8", rate(PEAK[self.container]), rate(AVERAGE[self.container]), name=self.name)


def master(variants: list[HlsVariant]) -> str:
    return master_playlist([v.variant() for v in variants])
