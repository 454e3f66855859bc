"""A live DJ's decoder (audio/live_input.py) with the station's own ffmpeg: an Ogg DJ's chains,
each decoded in turn, and each chain's title on air with its first sample."""

from __future__ import annotations

import asyncio
import subprocess

from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.audio.live_input import LiveInput
from streamer.audio.pcm import frame_bytes
from streamer.wire.framing import OggFramer


def chain(freq: int, seconds: float, rate: int, channels: int) -> bytes:
    return subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"sine={freq}:sample_rate={rate}:duration={seconds}",
         "-ac", str(channels), "-c:a", "libvorbis", "-f", "ogg", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def test_a_chain_title_said_ahead_of_its_audio_airs_with_its_first_sample_and_is_handed_on():
    """ices2 sends seconds ahead: the next chain's title came while the one before still played,
    and aired then (QA: 2.4 s early). A DJ taken off air meanwhile and back (their new decoder)
    starts with that newest title, not the one that aired last."""
    one, two = chain(440, 1.0, 44100, 2), chain(880, 1.0, 22050, 1)
    second = OggFramer().feed(two)

    async def run() -> tuple[int, int, tuple | None]:
        live = LiveInput(ffmpeg_exe(), "DJ", 44100, 2, "application/ogg")
        await live.start()
        try:
            live.write(one)
            live.set_title("Tino - One", ("Tino", "One"))  # the chain on air: at once
            live.write(b"".join(second[:2]))  # the next chain's first pages: its decoder waits behind
            live.set_title("Tino - Two", ("Tino", "Two"))
            assert (live.title, live.song()) == ("Tino - One", ("Tino", "One"))
            live.write(b"".join(second[2:]))
            live.end()
            read = before = 0
            while (pcm := await live.read(8192)) is not None:
                if live.title == "Tino - One":
                    before = read + len(pcm)
                read += len(pcm)
            return before, read, live.newest
        finally:
            await live.close()

    before, read, newest = asyncio.run(run())
    second_of = 44100 * frame_bytes(2)
    assert abs(before - second_of) <= 8192, (before, second_of)  # the title switched where the first chain's second ended
    assert abs(read - 2 * second_of) <= 0.05 * second_of, read  # (a resampled chain may end some ms short)
    assert newest == ("Tino - Two", ("Tino", "Two"))


def test_bytes_that_come_after_the_decoders_closed_are_let_go():
    """QA: a DJ's bytes that came after their input was closed (their stall, the station's stop)
    raised IndexError in the source's transport, which dropped the DJ's connection."""
    mp3 = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=440:duration=0.5", "-c:a", "libmp3lame", "-f", "mp3", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip

    async def run() -> None:
        for kind, data in (("audio/mpeg", mp3), ("application/ogg", chain(440, 0.5, 44100, 2))):
            live = LiveInput(ffmpeg_exe(), "DJ", 44100, 2, kind)
            await live.start()
            live.write(data[: len(data) // 2])
            await live.close()
            live.write(data[len(data) // 2 :])
            assert not live.full() and live.received == len(data)

    asyncio.run(run())
