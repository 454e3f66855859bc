"""The track library's pure parts with plain values: a DJ's words for a file that will not play,
each file's level on air, the live DJ's slow gain, the rows in SQLite, the rotation's look
ahead, and the scan's progress line and table."""

from __future__ import annotations

import asyncio
import math
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from streamer.audio.leveling import CODEC_MARGIN, MAX_SLEW, LateLevel, Level, SlowGain, level_for
from streamer.config import parse_config
from streamer.library.analysis import claimed_kind, describe_failure, truncation
from streamer.library.catalog import MIGRATIONS, OK, UNPLAYABLE, UPSERT, Entry, load_all, row_of
from streamer.library.report import duration, progress_line, table
from streamer.library.riff import info_tags, read_info
from streamer.library.scanner import Progress
from streamer.library.tags import TrackInfo, read_track_info
from streamer.schedule.rotation import Rotation
from streamer.settings import LoudnessConfig
from streamer.state import Store
from streamer.yamldoc import ConfigError

NOT_AUDIO = "not an audio file ffmpeg can decode"


def test_a_file_that_will_not_play_is_described_as_a_dj_would():
    assert describe_failure(b"", 0, NOT_AUDIO) == "empty file"
    assert describe_failure(b"Dear listener,\nthe show is moved.\n", 40, NOT_AUDIO) == "not an audio file (it is text)"
    assert describe_failure(bytes(range(256)) * 4, 1024, NOT_AUDIO) == "not an audio file"
    damaged = describe_failure(b"ID3\x04\x00\x00garbage", 5000, NOT_AUDIO)
    assert damaged.startswith("header damaged: it starts like an MP3 file")
    assert describe_failure(b"fLaC\x00", 5000, "no audio could be decoded").startswith("header damaged: it starts like a FLAC")
    assert describe_failure(b"OggS", 10, "file not found") == "file not found"  # a reason that says it all stays
    assert claimed_kind(b"\x00\x00\x00\x20ftypM4A ") == "an MP4/M4A" and claimed_kind(b"\xff\xfb\x90\x00") == "an MP3"
    assert claimed_kind(b"\xff\xf1\x50\x80") == "an AAC" and claimed_kind(b"<html>") is None


def test_truncation_is_told_only_when_decoding_stops_well_short():
    assert truncation(30.2, 180.0) == "truncated after 30 s (the file says 180 s)"
    assert truncation(179.5, 180.0) == "" and truncation(30.0, None) == "" and truncation(9.2, 10.0) == ""


def entry(**kw) -> Entry:
    base = dict(
        path="/m/a.flac", size=1, mtime_ns=1, status=OK, duration=200.0, integrated=-10.0, true_peak=-0.5, cue_in=1.2, cue_out=198.0
    )
    return Entry(**{**base, **kw})


def test_each_file_gets_its_gain_and_cue_points():
    on = LoudnessConfig()
    loud = level_for(entry(), None, on)
    assert loud == Level(-6.0, 1.2, 198.0, "analysis")  # -16 - (-10)
    quiet = level_for(entry(integrated=-40.0, true_peak=-30.0), None, on)
    assert quiet.gain_db == 12.0  # max_gain: a near-silent track is raised no further
    # a peaky quiet track: raised only as far as the limiter can take its peaks (ceiling + 3 dB room)
    peaky = level_for(entry(integrated=-24.0, true_peak=-2.0), None, on)
    assert peaky.gain_db == pytest.approx(on.true_peak - CODEC_MARGIN + 3.0 + 2.0)
    close = level_for(entry(cue_in=0.01, cue_out=199.99), None, on)
    assert (close.start, close.end) == (0.0, None)  # too close to the ends to matter
    tagged = TrackInfo(Path("/m/b.mp3"), "", "b", 100.0, tag_loudness=(-12.0, -0.2))
    assert level_for(None, tagged, on).basis == "tags" and level_for(None, tagged, on).gain_db < 0
    assert level_for(None, None, on) == Level(0.0, 0.0, None, "none")
    off = level_for(entry(), None, LoudnessConfig(enabled=False))
    assert off == Level(0.0, 1.2, 198.0, "off")  # cue points still apply
    assert level_for(entry(status=UNPLAYABLE, integrated=None), None, on).basis == "none"


def dj(level_db: float, seconds: float, rate: int = 8000) -> list[bytes]:
    """A DJ's stream as 0.1 s chunks of noise at `level_db` dBFS RMS (mono)."""
    rng = np.random.default_rng(1)
    amplitude = 10 ** (level_db / 20)
    chunks = int(seconds * 10)
    return [(rng.standard_normal(rate // 10) * amplitude).astype("<f4").tobytes() for _ in range(chunks)]


def rms_db(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<f4").astype(np.float64)
    return 10 * math.log10(float(np.mean(x * x)))


def test_a_quiet_dj_is_raised_slowly_and_silence_leaves_the_gain_alone():
    agc = SlowGain(8000, 1, LoudnessConfig(target=-16.0))
    gains = []
    for chunk in dj(-30.0, 12.0):
        before = agc.gain_db
        agc.process(chunk)
        assert abs(agc.gain_db - before) <= MAX_SLEW * 0.1 + 1e-9  # never faster than MAX_SLEW dB/s
        gains.append(agc.gain_db)
    assert gains[9] == pytest.approx(MAX_SLEW, abs=0.01)  # 2 dB after the first second
    assert gains[-1] == 12.0  # capped at max_gain (-30 + 0.7 needs 13.3)
    held = agc.gain_db
    out = agc.process(np.zeros(800, dtype="<f4").tobytes())
    assert agc.gain_db == held and not np.any(np.frombuffer(out, dtype="<f4"))
    loud = SlowGain(8000, 1, LoudnessConfig(target=-16.0))
    outs = [loud.process(c) for c in dj(-8.0, 10.0)]
    assert rms_db(outs[-1]) - 0.7 == pytest.approx(-16.0, abs=0.5)  # brought down to the target


def test_an_analysis_that_comes_mid_track_cuts_the_silent_end_and_moves_the_gain_slowly():
    rate, frame = 8000, 4  # mono float: 800 frames = 0.1 s
    chunk = np.full(800, 0.5, dtype="<f4").tobytes()
    row: list[Level] = []
    late = LateLevel(Level(0.0, 0.0, None, "none"), lambda: row[0] if row else None, rate, 1)
    assert late.apply(chunk, 0) == chunk and late.waiting  # no analysis yet: as the decoder gives it
    row.append(Level(-4.0, 0.5, 3.05, "analysis"))  # the analysis: 4 dB down, cue-out at 3.05 s
    gains, offset, outs = [], 800 * frame, []
    while (out := late.apply(chunk, offset)) is not None:
        outs.append(np.frombuffer(out, dtype="<f4"))
        gains.append(late.gain_db)
        offset += len(chunk)
    assert not late.waiting and late.level == Level(-4.0, 0.0, 3.05, "analysis") and late.goal_db == -4.0  # cue-in aired: 0
    assert sum(len(o) for o in outs) == round(3.05 * rate) - 800  # ends at the cue-out, to the sample
    assert np.diff([0.0, *gains]).min() >= -MAX_SLEW * 0.1 - 1e-9  # never faster than MAX_SLEW dB/s
    assert gains[9] == pytest.approx(-2.0) and gains[19] == pytest.approx(-4.0) and gains[-1] == -4.0
    assert outs[0][0] == pytest.approx(0.5) and outs[-1][-1] == pytest.approx(0.5 * 10 ** (-4 / 20), rel=1e-5)
    assert np.all(np.diff(np.concatenate(outs)) <= 1e-7)  # a ramp, no step
    assert late.apply(chunk, offset) is None  # past the cue-out: nothing more
    past = LateLevel(Level(0.0, 0.0, None, "none"), lambda: Level(0.0, 0.0, 1.0, "off"), rate, 1)
    assert past.apply(chunk, 2 * rate * frame) is None and past.gain_db == past.goal_db == 0.0  # loudness off: cues only
    tagged = LateLevel(Level(-3.0, 0.0, None, "tags"), lambda: Level(-5.0, 0.0, None, "analysis"), rate, 1)
    assert tagged.apply(chunk, 0) is not None and tagged.goal_db == -2.0  # on top of what the decoder applies


def test_a_track_not_analysed_yet_does_not_air_its_leading_silence():
    rate, frame = 8000, 4  # mono float: 800 frames = 0.1 s

    def pcm(*parts: tuple[float, float]) -> bytes:  # (seconds, amplitude) ...
        return np.concatenate([np.full(round(t * rate), a, dtype="<f4") for t, a in parts]).tobytes()

    row: list[Level] = []
    late = LateLevel(Level(0.0, 0.0, None, "none"), lambda: row[0] if row else None, rate, 1)
    hiss = 0.01  # -40 dBFS: under the cue-in threshold (-34)
    assert late.apply(pcm((0.2, hiss)), 0) == b"" and late.looking  # all silence so far: nothing airs
    out = late.apply(pcm((0.15, hiss), (0.05, 0.5)), 0)
    assert out == pcm((0.05, 0.5)) and not late.looking  # the sound from its first sample
    assert late.skipped == round(0.35 * rate) * frame and late.level.start == pytest.approx(0.35) and late.waiting
    row.append(Level(0.0, 0.3, 1.0, "analysis"))  # the analysis: cue-out at 1.0 s into the file
    aired = len(out)
    while (out := late.apply(pcm((0.1, 0.5)), aired)) is not None:
        aired += len(out)
    assert aired == round((1.0 - 0.35) * rate) * frame  # the cue-out, in the file's own time
    assert late.level == Level(0.0, pytest.approx(0.35), 1.0, "analysis")  # the cue-in that aired

    short = LateLevel(Level(0.0, 0.0, None, "none"), lambda: None, rate, 1)
    assert short.apply(pcm((0.05, hiss)), 0) == b""  # held: under MIN_SILENCE (0.1 s) it may be part of the music
    assert short.apply(pcm((0.1, 0.5)), 0) == pcm((0.05, hiss), (0.1, 0.5)) and short.skipped == 0
    quieter = LateLevel(Level(-10.0, 0.0, None, "tags"), lambda: None, rate, 1)  # the decoder turns it down 10 dB
    assert quieter.apply(pcm((0.2, hiss)), 0) == pcm((0.2, hiss))  # -40 dBFS after -10 dB was -30 at the source: sound
    cued = LateLevel(Level(0.0, 2.0, None, "none"), lambda: None, rate, 1)  # a decoder started at a cue-in
    assert not cued.looking and cued.apply(pcm((0.2, 0.0)), 0) == pcm((0.2, 0.0))


def wav_with_info(path: Path, info: list[tuple[bytes, bytes]], info_last: bool) -> Path:
    """A real 8 kHz mono 16-bit WAV (0.1 s of silence) with a LIST-INFO chunk before or after its audio."""

    def chunk(key: bytes, body: bytes) -> bytes:
        return key + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)

    fmt = chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))
    listed = chunk(b"LIST", b"INFO" + b"".join(chunk(k, v) for k, v in info))
    data = chunk(b"data", b"\0" * 1600)
    body = b"WAVE" + fmt + (data + listed if info_last else listed + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_a_wavs_riff_info_tags_are_its_artist_and_title(tmp_path):
    """WAVs carry RIFF INFO tags (broadcast tools, ffmpeg), which mutagen does not read: they
    aired under their file names (QA). Before or after the audio, odd lengths padded, UTF-8 or
    Latin-1."""
    fields = [(b"IART", b"Thandiwe Mokoena\0"), (b"INAM", b"Rain Song\0"), (b"ISFT", b"Lavf59"),
              (b"IPRD", "Café Sessions".encode("latin-1")), (b"ICRD", b"2024-05-01"), (b"IGNR", b"Jazz")]  # fmt: skip
    for last in (False, True):
        info = read_track_info(wav_with_info(tmp_path / f"take_{int(last)}.wav", fields, last))
        assert (info.artist, info.title, info.album, info.year, info.genre) == (
            "Thandiwe Mokoena",
            "Rain Song",
            "Café Sessions",
            "2024",
            "Jazz",
        )
        assert info.codec == "WAVE" and info.sample_rate == 8000 and info.duration == pytest.approx(0.1)
    bare = read_track_info(wav_with_info(tmp_path / "studio_take.wav", [], True))
    assert (bare.artist, bare.title) == ("", "studio take")  # no tags: its name, as before
    assert info_tags(b"INAM\x05\x00\x00\x00Tr") == {"title": "Tr"}  # a truncated chunk: what is there
    bogus = tmp_path / "bogus.wav"  # a LIST whose size is under its own type field: no tags, no read of the rest
    bogus.write_bytes(b"RIFF\x00\x00\x00\x00WAVELIST\x02\x00\x00\x00INFOINAM\x03\x00\x00\x00abc" + b"\0" * 100)
    assert read_info(bogus) == {}


def test_rows_go_into_sqlite_and_come_back(tmp_path):
    async def go():
        store = Store(tmp_path / "library.sqlite", MIGRATIONS)
        rows = [entry(path=f"/m/{i}.flac", true_peak=None if i == 0 else -1.5) for i in range(3)]
        for row in rows:
            store.write(UPSERT, row_of(row))
        store.write(UPSERT, row_of(entry(path="/m/1.flac", status=UNPLAYABLE, reason="header damaged")))
        await store.flush()
        back = await store.run(load_all)
        await store.close()
        return rows, back

    rows, back = asyncio.run(go())
    assert back["/m/0.flac"] == rows[0] and back["/m/2.flac"] == rows[2]
    assert back["/m/1.flac"].reason == "header damaged" and not back["/m/1.flac"].playable


@pytest.mark.parametrize("order", ["shuffle", "random", "sequential"])
def test_peek_shows_the_file_next_gives(order):
    files = [Path(f"/m/{i}.mp3") for i in range(7)]
    rotation = Rotation(files, order, random.Random(3))
    for _ in range(30):
        ahead = rotation.peek()
        assert rotation.peek() == ahead and rotation.next() == ahead


def test_progress_line_and_table():
    p = Progress(total=2000, done=500, audio_seconds=3600 * 30, cpu_seconds=400.0)
    line = progress_line(p)
    assert line.startswith("[######..................] 500/2,000 files, 30.0 h of audio, 270x real time, ETA 20:00"), line
    assert duration(3725) == "1:02:05" and duration(65) == "1:05"
    rows = table([entry(), entry(path="/m/x.mp3", status=UNPLAYABLE, reason="empty file", integrated=None, true_peak=None)], lambda e: -6.0)
    assert "-10.0" in rows[1] and "-6.0" in rows[1] and rows[2].endswith("(empty file)") and "     -" in rows[2]


def test_loudness_settings_and_their_errors():
    base = "mounts:\n  /main: {}\n"
    assert parse_config("audio:\n  loudness: off\n" + base, Path("c.yaml")).loudness.enabled is False
    assert parse_config(base, Path("c.yaml")).loudness == LoudnessConfig()
    with pytest.raises(ConfigError) as err:
        parse_config("audio:\n  loudness: {target: 3, max_gian: 6}\n" + base, Path("c.yaml"))
    text = str(err.value)
    assert "c.yaml:2:22: audio.loudness.target: must be between -40 and -5, not 3" in text and "did you mean 'max_gain'" in text


def test_a_file_name_that_is_not_utf8_keeps_its_row(tmp_path):
    odd = "/m/caf\udce9.mp3"  # b"caf\xe9.mp3" as Python names it

    async def go():
        store = Store(tmp_path / "library.sqlite", MIGRATIONS)
        store.write(UPSERT, row_of(entry(path=odd)))
        await store.flush()
        back = await store.run(load_all)
        await store.close()
        return back

    assert list(asyncio.run(go())) == [odd]
