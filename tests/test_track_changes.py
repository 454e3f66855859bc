"""Track changes on a loaded machine: the next file's decoder is started while the track on air
still plays, so a decoder that is slow to start costs no silence at the change."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest
import uvloop

from streamer.audio.decoder import DecodeError
from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.audio.leveling import Level
from streamer.audio.next_decoder import NextDecoder
from streamer.audio.track import start_decoder
from streamer.schedule.model import Fades
from streamer.schedule.scheduler import Choice

from .conftest import decode_errors, make_tone, need, record, start_server

NEWS = "news:\n  folder: news\n"
DECODER_START = 0.6  # seconds a decoder takes to start here: three times the 0.2 s a track change leaves


def slow_decoders(tmp_path: Path) -> Path:
    """ffmpeg as it is on a loaded machine for decoders (the only ffmpegs writing station PCM):
    slow to start. Encoders and the library's analysis start as usual."""
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *"-acodec pcm_f32le"*) sleep {DECODER_START};; esac\nexec "{ffmpeg_exe()}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.interop
def test_decoders_slow_to_start_cost_no_silence_at_track_changes(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i, fmt in enumerate(("mp3", "ogg", "flac", "mp3", "ogg", "flac"), 1):
        codec = {"mp3": ("-c:a", "libmp3lame"), "ogg": ("-c:a", "libvorbis"), "flac": ("-c:a", "flac")}[fmt]
        make_tone(music / f"{i}.{fmt}", 300 + 60 * i, 3.0, 44100, 2, codec, "Band", f"Song {i}")
    playlist = f"timezone: UTC\nplaylists:\n  m: {{files: ['{music}/'], order: sequential}}\nfallback: m\n"
    env = {"STREAMER_FFMPEG": str(slow_decoders(tmp_path))}
    server = start_server(tmp_path, playlist, mounts="  /main: {bitrate: 128, metaint: 4000}", env=env)
    try:
        rec = record(server.port, "/main", 16.0)
        status = server.status()
    finally:
        server.stop()
    titles = [fields["StreamTitle"] for _, fields in rec.blocks if fields.get("StreamTitle")]
    changes = [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]
    assert status["silence_inserted_seconds"] == 0, status["silence_inserted_seconds"]
    assert "decoder late" not in (log := server.log_text()), log  # the whole log: what started when
    assert len(changes) >= 5, changes  # a change every 3 s: five or more in the 16 s
    assert decode_errors(rec.audio, tmp_path)[0] == []


@pytest.mark.interop
def test_the_early_decoder_of_a_file_new_to_the_library_starts_at_its_analysed_level(tmp_path):
    """On a fresh station the next file's analysis lands while the track before it plays: an
    early decoder started at its unanalysed level was thrown away at the change (its gain had
    changed), and a slow decoder then cost silence. The early decoder now waits for the analysis
    (up to a second). Here analysing 2.ogg takes 0.8 s and every decoder 0.6 s to start."""
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *"-acodec pcm_f32le"*) sleep {DECODER_START};; *ebur128*) case "$*" in *2.ogg*) sleep 0.8;; esac;; esac\n'
        f'exec "{ffmpeg_exe()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    music = tmp_path / "music"
    music.mkdir()
    for i, fmt in enumerate(("mp3", "ogg", "mp3"), 1):
        codec = ("-c:a", "libvorbis") if fmt == "ogg" else ("-c:a", "libmp3lame")
        make_tone(music / f"{i}.{fmt}", 300 + 60 * i, 3.0, 44100, 2, codec, "Band", f"Song {i}")
    playlist = f"timezone: UTC\nplaylists:\n  m: {{files: ['{music}/'], order: sequential}}\nfallback: m\n"
    server = start_server(tmp_path, playlist, mounts="  /main: {bitrate: 128, metaint: 4000}", env={"STREAMER_FFMPEG": str(wrapper)})
    try:
        rec = record(server.port, "/main", 7.0)  # the first change, 3 s in
        status = server.status()
    finally:
        server.stop()
    titles = [fields["StreamTitle"] for _, fields in rec.blocks if fields.get("StreamTitle")]
    assert "Band - Song 2" in titles, titles
    assert status["silence_inserted_seconds"] == 0, status["silence_inserted_seconds"]
    assert "decoder late" not in (log := server.log_text()), log  # the whole log: what started when


def choice(path: Path) -> Choice:
    return Choice(path, "m", "rotation", None, Fades())


@pytest.mark.interop  # real ffmpegs
def test_the_early_decoder_is_used_only_for_the_file_and_level_chosen(tmp_path):
    """A guess that comes true hands over its started decoder (its first chunk already there);
    a wrong file or a level changed since (the file was analysed meanwhile) kills it."""
    a = make_tone(tmp_path / "a.wav", 440, 2.0)
    b = make_tone(tmp_path / "b.wav", 660, 2.0)
    start = lambda path, level: start_decoder(ffmpeg_exe(), 44100, 2, path, level)  # noqa: E731

    async def level_of(c: Choice):
        return None, Level()

    async def gone(task) -> bool:
        """The decoder `task` started is killed and reaped within 5 s."""
        proc = (await task)[1]._proc
        for _ in range(100):
            if proc.returncode is not None:
                return True
            await asyncio.sleep(0.05)
        return False

    async def scenario():
        spare = NextDecoder()
        spare.guess((0.0, choice(a)), level_of, start)
        taken = await spare.take(a, Level())
        assert taken is not None and taken.path == a
        assert len(await taken.read()) > 0
        await taken.close()

        spare.guess((0.0, choice(a)), level_of, start)
        wrong = spare._task
        assert await spare.take(b, Level()) is None  # b was chosen
        assert await gone(wrong)  # the unused decoder is killed

        spare.guess((0.0, choice(a)), level_of, start)
        guessed = spare._task
        assert await spare.take(a, Level(gain_db=-3.0)) is None  # the level changed since the guess
        assert await gone(guessed)

        spare.guess((0.0, choice(tmp_path / "missing.wav")), level_of, start)
        assert await spare.take(tmp_path / "missing.wav", Level()) is None  # its own start reports the error
        with pytest.raises(DecodeError, match="file not found"):
            await start(tmp_path / "missing.wav", Level())

        spare.guess((0.0, Choice(None, "bulletin", "bulletin", None, Fades())), level_of, start)
        assert spare._task is None  # nothing is started for a bulletin or a DJ

        spare.guess((0.0, choice(a)), level_of, start)
        dropped = spare._task
        spare.drop()  # dropped while it starts: closed once started
        assert not dropped.done() and await gone(dropped)

    uvloop.run(scenario())  # the station's loop (cli.py)


@pytest.mark.interop
def test_a_bulletins_segments_start_their_decoders_early_too(tmp_path):
    """QA once heard 0.62 s of silence before an on-demand bulletin ("decoder late" six times):
    a bulletin's segments are no file the schedule's guess can name, so each decoder started
    only when needed. Now the first two start when the bulletin is asked for (or when it is next),
    and each next two when one starts: a headline read in a second or two leaves the decoder two
    segments ahead time to start (one ahead, under the suite's load, did not: 1.4 s of silence)."""
    need("espeak-ng")
    music = tmp_path / "music"
    music.mkdir()
    make_tone(music / "song.mp3", 440, 30.0, 44100, 2, ("-c:a", "libmp3lame"), "Band", "Song")
    (tmp_path / "news").mkdir()
    playlist = f"timezone: UTC\nplaylists:\n  m: {{files: ['{music}/']}}\nfallback: m\n"
    env = {"STREAMER_FFMPEG": str(slow_decoders(tmp_path))}
    server = start_server(tmp_path, playlist, mounts="  /main: {bitrate: 128, metaint: 4000}", config_extra=NEWS, env=env)
    try:
        admin = {"Content-Type": "application/json", "Authorization": "Basic YWRtaW46aGFja21l"}  # admin:hackme
        for title in ("Harare water supply restored", "Warriors qualify for the finals", "Rain expected tonight"):
            body = json.dumps({"title": title, "source": "ZBC"}).encode()
            urllib.request.urlopen(urllib.request.Request(server.url("/api/news"), data=body, headers=admin), timeout=5).close()
        time.sleep(6)  # the bulletin is built ahead with these headlines
        urllib.request.urlopen(urllib.request.Request(server.url("/api/bulletin"), data=b"", headers=admin), timeout=5).close()
        rec = record(server.port, "/main", 20.0)
        status = server.status()
    finally:
        server.stop()
    titles = [fields["StreamTitle"] for _, fields in rec.blocks if fields.get("StreamTitle")]
    assert sum(1 for i, t in enumerate(titles) if t.startswith("News: ") and (i == 0 or titles[i - 1] != t)) >= 3, titles
    assert "decoder late" not in (log := server.log_text()), log  # the whole log: what started when
    assert status["silence_inserted_seconds"] == 0, status["silence_inserted_seconds"]
