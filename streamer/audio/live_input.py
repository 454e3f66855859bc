"""A live DJ on the station's live mount: their stream decoded into the station's PCM path.

The DJ's bytes (any format their encoder sends) go into an ffmpeg decoder; the feeder reads
PCM from it instead of the schedule, so every station mount carries the DJ in its own format
and no listener reconnects. An Ogg DJ gets a decoder per chain, read one after the other:
ezstream and ices2 start a chain per file, and ffmpeg 7 stops at a chain whose sample rate or
channels differ ("Channel change is not supported"; QA: the DJ went off air at their next file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from .. import child
from ..aio import background
from ..wire.formats import format_of
from ..wire.framing import OggFramer
from ..wire.icy import split_title
from .pcm import DTYPE, SAMPLE_BYTES, SAMPLE_FORMAT
from .shaping import WholeFrames

log = logging.getLogger("streamer.live")

SILENCE_RMS = 0.002  # about -54 dBFS: below this a DJ's stream counts as silent
MAX_WAITING = 16 * 1024  # bytes of the DJ's stream waiting for the decoder before we stop reading the DJ
# The decoder's input pipe, kept small so little of the DJ is queued when they leave: with
# asyncio's own loop. Under uvloop a child's stdin is a socket pair, which this cannot size;
# what a departed DJ still airs is capped by live_play.LIVE_TAIL either way.
PIPE_SIZE = 8192
Said = tuple[str, tuple[str, str] | None]  # a DJ's title, and (artist, title) when their software gave them apart


def input_options(content_type: str) -> list[str]:
    """ffmpeg input options for a source's stream: its demuxer when known (the source's
    Content-Type names it, so ffmpeg need not probe: probing an MP3 DJ waits for 4 KB, a
    quarter second at 128 kbit/s, before the first sample; naming it, 80 ms), a short probe if not."""
    demuxer = format_of(content_type).demuxer
    if demuxer:
        return ["-f", demuxer, "-probesize", "32"]
    return ["-probesize", "4096"]


class _Decoder:
    """One ffmpeg decoding (part of) the DJ's stream; bytes wait in `early` while it starts."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = asyncio.Event()  # started (or given up: proc stays None)
        self.early: list[bytes] = []
        self.early_bytes = 0
        self.written = 0
        self.input_ended = False
        self.title: Said | None = None  # its Ogg chain's: on air with its first sample

    def write(self, data: bytes) -> None:
        self.written += len(data)
        proc = self.proc
        if proc is None:
            self.early.append(data)
            self.early_bytes += len(data)
        elif proc.stdin and not proc.stdin.is_closing():
            proc.stdin.write(data)

    def waiting(self) -> int:
        """Bytes not yet taken by the decoder."""
        proc = self.proc
        if proc is None:
            return self.early_bytes
        if proc.stdin is None or proc.stdin.is_closing():
            return 0
        return proc.stdin.transport.get_write_buffer_size()

    def end_input(self) -> None:
        self.input_ended = True
        proc = self.proc
        if proc and proc.stdin and not proc.stdin.is_closing():
            proc.stdin.close()

    def started(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        pipe = proc.stdin.transport.get_extra_info("pipe") if proc.stdin else None
        if pipe is not None:
            child.resize_pipe(pipe.fileno(), PIPE_SIZE)
        if proc.stdin is not None:
            proc.stdin.write(b"".join(self.early))
        self.early.clear()
        self.early_bytes = 0
        if self.input_ended:
            self.end_input()
        self.ready.set()


class LiveInput:
    def __init__(self, ffmpeg: str, name: str, sample_rate: int, channels: int, content_type: str = "") -> None:
        self.ffmpeg = ffmpeg
        self.content_type = content_type
        self.name = name
        self.rate = sample_rate
        self.channels = channels
        self.title = name
        self.parts: tuple[str, str] | None = None  # (artist, title) when the DJ's software said them apart
        self.newest: Said | None = None  # the last title said, aired or not yet
        self.ended = False
        # The news or a hard event airs over the DJ: their stream goes on under it, unheard, read at
        # the pace it would have aired (let_go), so they come back at their own time. (Their bytes
        # dropped meanwhile left what their decoders held, 2.6 s, to air after the news: QA.)
        self._letting_go: asyncio.Task | None = None
        self._decoders = [_Decoder()]  # read from the first, written to the last
        self._ogg = OggFramer() if format_of(content_type).family == "ogg" else None
        self._frames = WholeFrames(channels)
        self._first: bytes | None = None  # the first PCM, read ahead to know the DJ is audible
        self.received = 0  # bytes of the DJ's stream written in (whether they decode or not)
        self.chains = 0  # Ogg chains after the first, each with its own decoder
        self._last_was_bos = False  # (a multiplexed chain begins with several BOS pages)

    @property
    def said(self) -> Said:
        """The title on air now, with its parts."""
        return self.title, self.parts

    def song(self) -> tuple[str, str]:
        """(artist, title) of what the DJ plays: as their software gave them, else split."""
        return self.parts or split_title(self.title)

    async def start(self) -> None:
        await self._start(self._decoders[0])

    async def _start(self, decoder: _Decoder) -> None:
        try:
            proc = await child.spawn(
                self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
                *input_options(self.content_type), "-analyzeduration", "0", "-fflags", "nobuffer", "-i", "pipe:0",
                "-vn", "-f", SAMPLE_FORMAT, "-ar", str(self.rate), "-ac", str(self.channels), "pipe:1",
                stdin=True, stderr=False,
            )  # fmt: skip
        except BaseException:
            decoder.ready.set()  # (its reader sees no process: the DJ's stream ends there)
            raise
        if decoder not in self._decoders:  # closed while it started
            await child.stop(proc)
            return
        decoder.started(proc)

    def write(self, data: bytes) -> None:
        self.received += len(data)
        if not self._decoders:  # closed: bytes that came after (QA: an IndexError dropped the DJ's connection)
            return
        if self._ogg is None:
            self._decoders[-1].write(data)
            return
        for page in self._ogg.feed(data):  # (bytes that are no Ogg page at all never decode: let go)
            bos = page[5] & 2
            if bos and self._decoders[-1].written and not self._last_was_bos:
                self._next_chain()
            self._last_was_bos = bool(bos)
            self._decoders[-1].write(page)

    def set_title(self, title: str, parts: tuple[str, str] | None = None) -> None:
        """The DJ's title (/admin/metadata, an Ogg chain's comments). One that comes with a chain
        still queued behind the one on air airs with that chain's first sample: ices2 sends
        seconds ahead, and its titles aired when their bytes came (QA: up to 2.4 s early)."""
        self.newest = title, parts
        if len(self._decoders) > 1:
            self._decoders[-1].title = title, parts
        else:
            self.title, self.parts = title, parts

    def _next_chain(self) -> None:
        """A new Ogg chain: the decoder so far finishes its chain; a new one takes this one."""
        self._decoders[-1].end_input()
        decoder = _Decoder()
        self._decoders.append(decoder)
        self.chains += 1
        background(self._start(decoder), f"the decoder of DJ {self.name}'s next Ogg chain")

    def full(self) -> bool:
        """Enough of the DJ's stream waits for the decoder: the source is read no further for now."""
        return bool(self._decoders) and self._decoders[-1].waiting() > MAX_WAITING

    def end(self) -> None:
        """The DJ disconnected: let the decoder finish what it has."""
        self.ended = True
        if self._decoders:  # (none once closed: a DJ dropped after their decoder went; QA saw an IndexError)
            self._decoders[-1].end_input()

    async def first_audio(self, size: int, skip_silence: bool = False) -> bool:
        """Wait until the DJ's stream decodes to its first PCM (that is not silent, if asked);
        False if it ended before. Silence is let go at the pace it would have aired: a DJ who
        sends ahead (ices2: seconds) keeps that lead, a cushion against their network, and their
        audio after it airs at its own time (QA: 2.4 s early, the lead gone)."""
        first = await (self._pass_while(self.is_silent, size) if skip_silence else self.read(size))
        self._first = first
        return first is not None

    async def _pass_while(self, unheard: Callable[[bytes], bool], size: int) -> bytes | None:
        """Read the DJ's PCM and let it go, at the pace it would have aired, while `unheard` says
        so of it; the first that is to be heard (None: the stream ended)."""
        clock = asyncio.get_running_loop().time
        start, passed = clock(), 0.0
        while (pcm := await self.read(size)) is not None and unheard(pcm):
            passed += len(pcm) / (SAMPLE_BYTES * self.channels * self.rate)
            if (ahead := start + passed - clock()) > 0:
                await asyncio.sleep(ahead)
        return pcm

    async def read(self, size: int) -> bytes | None:
        """PCM (whole sample frames), or None once the DJ's stream has ended."""
        if self._first is not None:
            first, self._first = self._first, None
            return first
        while self._decoders:
            decoder = self._decoders[0]
            await decoder.ready.wait()
            data = await decoder.proc.stdout.read(size) if decoder.proc and decoder.proc.stdout else b""
            if data:
                return self._frames.take(data)
            if len(self._decoders) == 1:
                return None
            self._decoders.pop(0)  # its chain is over: on to the next one's decoder
            await asyncio.shield(child.stop(decoder.proc))  # (a read given up, see let_go, stops it all the same)
            if self._decoders and self._decoders[0].title is not None:
                self.title, self.parts = self._decoders[0].title
        return None

    def let_go(self) -> None:
        """The news or an event airs over the DJ: their stream is read on unheard, at its pace."""
        everything = self._pass_while(lambda _: True, int(self.rate * 0.1) * SAMPLE_BYTES * self.channels)
        self._letting_go = background(everything, f"DJ {self.name}'s stream under the news")

    async def hold_on(self) -> None:
        """The DJ is on air again: what they send is heard from here."""
        task, self._letting_go = self._letting_go, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    @staticmethod
    def is_silent(pcm: bytes) -> bool:
        if len(pcm) < SAMPLE_BYTES:
            return True
        samples = np.frombuffer(pcm[: len(pcm) // SAMPLE_BYTES * SAMPLE_BYTES], dtype=DTYPE)
        return float(np.sqrt(np.mean(samples * samples))) < SILENCE_RMS

    async def close(self) -> None:
        """The decoders go with whatever they still hold: no process outlives its DJ."""
        self.ended = True
        await self.hold_on()
        decoders, self._decoders = self._decoders, []
        for decoder in decoders:
            await child.stop(decoder.proc)
