"""A live DJ takes over the station: their stream decoded into the station's PCM path.

The schedule plays on until the DJ's stream decodes, then crossfades into it, so a DJ whose
encoder sends audio late (Ogg pages can hold a second or more) causes no silence. Every
station mount then carries the DJ in its own format, and no listener reconnects.
"""

from __future__ import annotations

import asyncio
import logging

from ..aio import background
from ..audio.feeder import Feeder
from ..audio.live_input import LiveInput
from ..audio.pcm import frame_bytes
from ..settings import Config
from .connection import SourceConnection

log = logging.getLogger("streamer.live")


def take_over(feeder: Feeder, source: SourceConnection, name: str, ffmpeg: str, config: Config, title: str | None = None) -> None:
    """A DJ connected to the live mount: their decoder is fed from the source's bytes (again,
    with their last `title`, when their stream stalled and the schedule took the air back)."""
    live = LiveInput(ffmpeg, name, config.sample_rate, config.channels, source.mount.info.content_type)
    live.title = title or name
    chain = source.mount.chains.current
    if chain is not None and chain.headers:  # an Ogg stream's next pages decode only after its headers
        live.write(chain.headers)
        live.received = 0  # (those are not the DJ's new bytes)
    source.tap = live.write
    source.tap_full = live.full
    source.on_gone = live.end
    source.mount.on_set_title = lambda title: setattr(live, "title", title)  # /admin/metadata, Ogg comments
    background(_when_audible(feeder, live, source, ffmpeg, config), f"live takeover by {name}")


async def _when_audible(feeder: Feeder, live: LiveInput, source: SourceConnection, ffmpeg: str, config: Config) -> None:
    address = source.address
    try:
        await live.start()
        first = live.first_audio(int(config.sample_rate * 0.1) * frame_bytes(config.channels))
        try:
            audible = await asyncio.wait_for(first, config.source_timeout)
        except TimeoutError:  # bytes keep coming and none decode: it must not hold the live mount
            kind = live.content_type or "audio"
            why = (
                f"nothing in {config.source_timeout:g} s of their stream decodes as {kind} (is the encoder set to another format?)"
                if live.received
                else f"sent nothing for {config.source_timeout:g} s"  # (a stall that lasted)
            )
            log.warning("live: %s from %s: %s; dropped", live.name, address, why)
            await live.close()
            source.close()
            return
        if not audible:
            said = "sent nothing that decodes" if live.received else "left"
            log.warning("live: %s from %s %s; the schedule plays on", live.name, address, said)
            await live.close()
            return
    except BaseException:
        await live.close()
        raise
    if source.closed:  # gone while their stream decoded: the schedule plays on
        await live.close()
        return

    def stalled() -> None:
        if not source.closed:
            take_over(feeder, source, live.name, ffmpeg, config, live.title)

    feeder.go_live(live, config.live_silence, stalled)
    log.info("live: %s takes over from %s", live.name, address)
