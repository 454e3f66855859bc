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
from ..audio.live_input import LiveInput, Said
from ..audio.pcm import frame_bytes
from ..settings import Config
from .connection import SourceConnection

log = logging.getLogger("streamer.live")


def take_over(
    feeder: Feeder,
    source: SourceConnection,
    name: str,
    ffmpeg: str,
    config: Config,
    said: Said | None = None,
) -> None:
    """A DJ connected to the live mount: their decoder is fed from the source's bytes (again,
    with the title they last said, `said`, when their stream stalled or stopped decoding while
    they stayed connected)."""
    live = LiveInput(ffmpeg, name, config.sample_rate, config.channels, source.mount.info.content_type)
    if said is not None:
        live.title, live.parts = said[0] or name, said[1]
    ogg = source.ingest.ogg
    if ogg is not None:  # an Ogg stream's next pages decode only after their chain's headers
        live.write(ogg.joining_bytes())
        live.received = 0  # (those are not the DJ's new bytes)
    source.tap = live.write
    source.tap_full = live.full
    source.on_gone = live.end
    source.name = name
    source.mount.on_set_title = live.set_title  # /admin/metadata, Ogg comments
    background(_when_audible(feeder, live, source, ffmpeg, config, again=said is not None), f"live takeover by {name}")


async def _when_audible(
    feeder: Feeder, live: LiveInput, source: SourceConnection, ffmpeg: str, config: Config, again: bool = False, silent: bool = False
) -> None:
    """The DJ on air once their stream decodes (`silent`: once it is heard again, read on from
    the decoders that aired it; `again`: they were on air before)."""
    address = source.address
    try:
        if not silent:
            await live.start()
        first = live.first_audio(int(config.sample_rate * 0.1) * frame_bytes(config.channels), skip_silence=silent)
        try:  # (a DJ sending silence sends: only the source timeout drops one who sends nothing)
            audible = await asyncio.wait_for(first, None if silent else config.source_timeout)
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
            await live.close()
            if source.closed and again:  # (QA: "left before their stream decoded" after a whole set)
                log.info("live: %s from %s did not come back; the schedule plays on", live.name, address)
            elif source.closed:
                log.warning("live: %s from %s left before their stream decoded; the schedule plays on", live.name, address)
            else:  # their decoder gave up on what they send: they must not hold the live mount (QA)
                kind = live.content_type or "audio"
                log.warning(
                    "live: %s from %s: their stream does not decode as %s (is the encoder set to another format?); dropped",
                    live.name,
                    address,
                    kind,
                )
                source.close()
            return
    except BaseException:
        await live.close()
        raise
    if source.closed:  # gone while their stream decoded: the schedule plays on
        await live.close()
        return

    def stalled(silent: bool) -> None:
        if silent and not source.closed:
            # The same decoders, with what they hold, read on at the pace it would have aired: a DJ
            # who sends ahead keeps their lead (QA: a new decoder lost it, and their audio aired
            # seconds early after a silent file).
            background(_when_audible(feeder, live, source, ffmpeg, config, again=True, silent=True), f"live takeover by {live.name}")
        elif silent:
            background(live.close(), f"closing the decoder of DJ {live.name}")
        elif not source.closed:
            # (the newest title: its chain, if not on air yet, is where the next decoder begins)
            take_over(feeder, source, live.name, ffmpeg, config, live.newest or live.said)

    feeder.go_live(live, config.live_silence, stalled)
    log.info("live: %s takes over from %s", live.name, address)
