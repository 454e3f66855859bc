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

from ..wire.aac_silence import silent_adts_frame
from ..wire.fmp4 import Fmp4Muxer, init_segment
from ..wire.hls import LowLatency, Part, Segment, Variant, master_playlist, media_playlist
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
PARTS_LISTED = 3  # segments whose parts a low-latency playlist lists (within 3 target durations of its end)
SAMPLES_PER_FRAME = 1024  # AAC-LC
INIT = "init.mp4"  # an fMP4 variant's initialisation segment, beside its playlist
GAP = 0.1  # s of audio missing between two frames (an encoder restart): bridged with silence


@dataclass(slots=True)
class Piece:
    """A part of a segment (the whole segment when parts are off), muxed on its own."""

    owner: Built
    index: int  # on its segment's grid of parts (a segment cut short at start-up lacks the first)
    start: float  # wall time of its first sample
    samples: int = 0
    data: bytes = b""
    last: bool = False  # the segment's last part: publishing it publishes the segment


@dataclass(slots=True)
class Built:
    """A segment being gathered, then served."""

    seq: int
    start: float  # wall time of its first sample
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # the open part's (PTS, ADTS frame)
    tags: list[tuple[int, bytes]] = field(default_factory=list)  # the open part's (PTS, ID3 tag)
    samples: int = 0  # at the variant's output rate
    data: bytes = b""
    discontinuity: bool = False
    parts: list[Piece] = field(default_factory=list)  # finished
    aired: int = 0  # of them published (parts are published in order)
    open: Piece | None = None


def last_made(segments: list[Built], pending: Built | None, current: Built | None) -> Piece | Built | None:
    """What a kept window's run made last: the segment it was filling, else the last part of the
    one in progress it published, else its last segment (None: nothing)."""
    if current is not None:
        return current.open
    if pending is not None:
        return pending.parts[pending.aired - 1]
    return segments[-1] if segments else None


class HlsVariant:
    def __init__(
        self, name: str, bitrate: int, out_rate: int, seconds: float, window: int, wall_of: Callable[[int], float],
        container: str = "ts", part_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        self.name = name
        self.container = container
        self.extension = EXTENSION[container]
        self.init = b""  # fMP4: the initialisation segment, made from the first frame
        self.bitrate = bitrate
        self.out_rate = out_rate
        self.seconds = seconds
        self.window = window
        self.part_seconds = part_seconds  # 0: no partial segments (plain HLS)
        self.wall_of = wall_of  # station sample → wall time it airs
        self.muxer: TsMuxer | Fmp4Muxer = TsMuxer() if container == "ts" else Fmp4Muxer()
        self.current: Built | None = None
        self.ready: deque[Piece] = deque()  # finished, waiting for their last sample to air
        self.segments: deque[Built] = deque(maxlen=window + 2)  # published (a couple kept past the window)
        self.pending: Built | None = None  # the segment whose parts are being published
        self.published = 0  # parts (or segments) published so far: the playlist's version
        self.published_at = 0.0  # when the last one was (wall clock; 0: none yet)
        self.title = ""
        self._first = True
        self._next_wall = 0.0  # where the frame after the last one given starts, if none is missing
        self.silence = b""  # a silent frame shaped like the encoder's (b"" if it cannot be made)
        self.discontinuity_sequence = 0  # the run's first segment number + the EXT-X-DISCONTINUITY tags that left the window
        self._resumed = False  # carrying on from the last run's window (resume): its first frame not seen yet
        self._floor = 0.0  # wall time up to which the last run made audio (resume): audio before it is not placed again

    @property
    def part_target(self) -> float:
        """The longest a part can be: parts end at the first frame on or after their grid line."""
        return self.part_seconds + SAMPLES_PER_FRAME / self.out_rate

    def frame(self, frame: bytes, samples: int, title: str | None, start_sample: int) -> None:
        """An ADTS frame from the variant's encoder (the sink it is given)."""
        wall = self.wall_of(start_sample)
        if wall + samples / self.out_rate <= self._floor:
            return  # (the last run published it)
        if self._first or self._resumed:
            self.silence = silent_adts_frame(frame)
            if self.container == "fmp4":
                self.init = init_segment(frame, bitrate=self.bitrate * 1000)
            self._resumed = False
        if not self._first and wall - self._next_wall > GAP and self.silence:
            self._bridge(wall)  # (after a resume: the restart's silence, so numbers and times go on)
        self._place(frame, samples, title, wall)

    def resume(
        self, segments: list[Built], pending: Built | None, title: str, discontinuities: int, muxer: dict, now: float,
        current: Built | None = None, init: bytes = b"",
    ) -> None:  # fmt: skip
        """Carry on from the last run's window (stream/hls_keep.py), before this run's first frame:
        its segments are listed and served as they were, and the time between the last sample it
        made and this run's first is bridged with silence, so a player that was playing hears the
        restart's gap and goes on, where it skipped 8-12 s to a new run's numbers. `current`: the
        segment the last run was filling, with its frames, filled on from where they end."""
        self.segments.extend(segments)
        self.current = self.pending = pending
        if current is not None:
            self.current = current
        last = last_made(segments, pending, current)
        assert last is not None
        self._next_wall = self._floor = last.start + last.samples / self.out_rate
        self.title, self.discontinuity_sequence = title, discontinuities
        self.init = init  # fMP4: served before this run's first frame makes it again (the same bytes)
        self.muxer.resume(muxer)
        self.published, self.published_at = sum(b.aired for b in self.segments) + (pending.aired if pending else 0), now
        self._first, self._resumed = False, True

    @property
    def settings(self) -> tuple:
        """What a kept window must have been made with to be carried on."""
        return (self.container, self.bitrate, self.out_rate, self.seconds, self.window, self.part_seconds)

    def _bridge(self, until: float) -> None:
        """Silent frames over a hole in the audio (the encoder restarted), up to `until`: segment
        numbers, timestamps and the alignment with the other variants go on as if it had played,
        and players need no discontinuity. Of a longer hole only the live window before the audio
        resumes is filled, after a discontinuity: the playlist never shows a number missing."""
        step = SAMPLES_PER_FRAME / self.out_rate
        start = max(self._next_wall, (math.floor(until / self.seconds) - self.window) * self.seconds)
        for k in range(math.floor((until - start) / step + 1e-3)):  # frames that end by `until` (within float error)
            self._place(self.silence, SAMPLES_PER_FRAME, None, start + k * step)

    def _place(self, frame: bytes, samples: int, title: str | None, wall: float) -> None:
        seq = math.floor(wall / self.seconds)
        built = self.current
        if built is None or seq > built.seq:
            if built is not None:
                self._finish_part(built, last=True)
            if self._first:  # numbered from the run's first segment, which the wall clock numbers, so
                self.discontinuity_sequence = seq  # the count never goes back across a restart (RFC 8216 6.2.2)
            # Audio missing before it, not bridged: a player is told the timestamps jump.
            gap = self._next_wall > 0 and wall - self._next_wall > GAP
            built = self.current = Built(seq, wall, discontinuity=self._first or gap)
            self._first = False
        self._next_wall = wall + samples / self.out_rate
        index = max(0, math.floor((wall - seq * self.seconds) / self.part_seconds)) if self.part_seconds else 0
        if built.open is not None and (index > built.open.index or self._overlong(built.open, samples)):
            self._finish_part(built, last=False)
        pts = round(wall * CLOCK)
        if built.open is None:
            built.open = Piece(built, index, wall)
            if title is not None:  # starting here: the part's opening tag says it (not the old one too)
                self.title, title = title, None
            built.tags.append((pts, id3_tag(self.title)))  # a late joiner gets the title
        if title is not None:
            self.title = title
            built.tags.append((pts, id3_tag(title)))
        built.frames.append((pts, frame))
        built.samples += samples
        built.open.samples += samples

    def _overlong(self, part: Piece, samples: int) -> bool:
        """Whether one more frame would make a part longer than the playlist's part target (a
        MUST of RFC 8216bis; only a clock that jumps back could do it): it ends early then."""
        return bool(self.part_seconds) and (part.samples + samples) / self.out_rate > self.part_target

    def _finish_part(self, built: Built, last: bool) -> None:
        piece = built.open
        assert piece is not None
        piece.data, piece.last = self.muxer.segment(built.frames, built.tags), last
        built.frames, built.tags, built.open = [], [], None
        built.parts.append(piece)
        if last:  # MPEG-TS parts play back to back as one segment (each opens with its PAT and PMT)
            built.data = b"".join(p.data for p in built.parts)  # one part (parts off): no copy
        self.ready.append(piece)

    def publish(self, now: float) -> None:
        """Parts whose last sample has aired go into the playlist; a segment goes in with its last."""
        while self.ready and self.ready[0].start + self.ready[0].samples / self.out_rate <= now:
            piece = self.ready.popleft()
            self.published += 1
            self.published_at = now
            piece.owner.aired += 1
            self.pending = piece.owner
            if not piece.last:
                continue
            self.pending = None
            self.segments.append(piece.owner)
            if len(self.segments) > self.window and self.segments[-self.window - 1].discontinuity:
                self.discontinuity_sequence += 1  # that segment has just left the live window

    def reached(self, msn: int, part: int | None) -> bool:
        """Whether the playlist holds segment `msn` whole (or, with `part`, that part of it), or
        anything later: a blocking reload's condition (RFC 8216bis 6.2.5.2)."""
        if part is None:
            return bool(self.segments) and self.segments[-1].seq >= msn
        newest = self.newest
        return newest is not None and (newest.seq > msn or (newest.seq == msn and newest.aired > part))

    @property
    def newest(self) -> Built | None:
        """The newest segment with anything published."""
        return self.pending if self.pending is not None else (self.segments[-1] if self.segments else None)

    @property
    def live(self) -> list[Built]:
        return list(self.segments)[-self.window :]

    def playlist(self) -> str:
        live = self.live
        recent = len(live) - PARTS_LISTED if self.part_seconds else len(live)
        segments = [
            Segment(f"{b.seq}.{self.extension}", b.samples / self.out_rate, b.start, b.discontinuity, self._parts(b) if i >= recent else ())
            for i, b in enumerate(live)
        ]  # fmt: skip
        init = INIT if self.container == "fmp4" else None
        low = None
        if self.part_seconds:
            hint = self.hint()
            preload = None if hint is None else f"{hint[0]}.{hint[1]}.{self.extension}"
            low = LowLatency(self.part_target, self._parts(self.pending) if self.pending is not None else (), preload)
        first = live[0].seq if live else 0
        return media_playlist(segments, self.seconds, first, self.discontinuity_sequence, map_uri=init, low_latency=low)

    def _parts(self, built: Built) -> tuple[Part, ...]:
        # named by their place in the list, as a blocking reload's _HLS_part counts them
        return tuple(Part(f"{built.seq}.{n}.{self.extension}", p.samples / self.out_rate) for n, p in enumerate(built.parts[: built.aired]))

    def hint(self) -> tuple[int, int] | None:
        """(segment, part) of the next part to be published: the playlist's preload hint."""
        if self.pending is not None:
            return self.pending.seq, self.pending.aired
        return (self.segments[-1].seq + 1, 0) if self.segments else None

    def segment(self, seq: int) -> Built | None:
        return next((b for b in self.segments if b.seq == seq), None)

    def part(self, seq: int, n: int) -> Piece | None:
        """The nth published part of a recent segment."""
        owners = [*list(self.segments)[-PARTS_LISTED:], *([self.pending] if self.pending is not None else [])]
        for built in owners:
            if built.seq == seq:
                return built.parts[n] if n < built.aired else None
        return None

    def variant(self) -> Variant:
        def rate(model: tuple[float, int, int]) -> int:
            scale, per_second, per_segment = model
            return round(self.bitrate * 1000 * scale + per_second + per_segment / self.seconds)

        return Variant(f"{self.name}/live.m3u8", rate(PEAK[self.container]), rate(AVERAGE[self.container]), name=self.name)


def master(variants: list[HlsVariant]) -> str:
    return master_playlist([v.variant() for v in variants])
