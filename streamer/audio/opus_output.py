"""An Opus mount's output: one continuous encoder, its pages re-wrapped as a chain per title
(wire/opus_chains.py), so Ogg players show each title without an encoder started per track."""

from __future__ import annotations

import random
from collections.abc import Callable

from ..settings import MountConfig
from ..ticks import HarvestedPipe
from ..wire.framing import OggFramer
from ..wire.opus_chains import OpusChains
from .encoder import WORKING_FRAMES, EncodedOutput

PageSink = Callable[[bytes, int, "str | None", bool], None]  # page, samples, title, header page


class ChainedOpusOutput(EncodedOutput):
    def __init__(self, mount: MountConfig, in_rate: int, sink: PageSink) -> None:
        super().__init__(mount, in_rate, lambda *_: None)
        self.page_sink = sink
        self.chains = OpusChains(random.getrandbits(32), in_rate)

    def mark(self, station_sample: int, title: str) -> None:
        self.chains.mark(station_sample, title)

    def begin(self, station_sample: int) -> None:
        super().begin(station_sample)
        self.chains.restart(station_sample)

    async def read(self, out: HarvestedPipe, working: Callable[[], None]) -> None:
        framer = OggFramer()
        while data := await out.read():
            for page in framer.feed(data):
                for piece in self.chains.feed(page):
                    self.page_sink(*piece)
            if self.chains.packets_out > WORKING_FRAMES:
                working()
