"""Synthesised, tagged demo tracks: the default station's music and the tests' fixtures.

pydub composes the notes (it is good at overlaying and fading segments); ffmpeg writes the
container. `python -m streamer.audio.synth DIR` rebuilds the default station's audio.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine

from .ffmpeg import ffmpeg_exe

SCALE = [0, 2, 4, 7, 9, 12, 14, 16]  # major pentatonic-ish, in semitones


@dataclass(frozen=True)
class TrackSpec:
    file: str  # name with extension: decides the container
    artist: str
    title: str
    seconds: float
    sample_rate: int
    channels: int
    codec_args: tuple[str, ...]
    root_hz: float = 220.0


MP3, VORBIS, OPUS = ("-c:a", "libmp3lame", "-b:a", "64k"), ("-c:a", "libvorbis", "-q:a", "0"), ("-c:a", "libopus", "-b:a", "32k")
AAC, FLAC, WAV = ("-c:a", "aac", "-b:a", "48k"), ("-c:a", "flac"), ("-c:a", "pcm_s16le")

# Different formats, sample rates and channel counts on purpose: the stream must not care.
DEFAULT_STATION = [
    TrackSpec("music/harare-sunrise.mp3", "Streamer Test Tones", "Harare Sunrise", 40, 44100, 2, MP3, 220.0),
    TrackSpec("music/bulawayo-evening.ogg", "Bulawayo Ensemble", "Ngiyabonga \u2018Live\u2019 \u2013 Evening", 40, 48000, 2, VORBIS, 196.0),
    TrackSpec("music/mutare-rain.flac", "Chimurenga Sine Band", "Mvura Inonaya", 30, 22050, 1, FLAC, 246.9),
    TrackSpec("music/kariba-blue.opus", "Streamer Test Tones", "Kariba Blue", 40, 48000, 2, OPUS, 174.6),
    TrackSpec("music/gweru-groove.m4a", "Tinotenda & The Oscillators", "Gweru Groove", 35, 32000, 2, AAC, 261.6),
    TrackSpec("ids/station-id.wav", "Streamer Radio", "Station ID", 6, 16000, 1, WAV, 329.6),
    TrackSpec("ids/top-of-the-hour.ogg", "Streamer Radio", "Top of the Hour", 5, 44100, 2, VORBIS, 392.0),
]


def compose(spec: TrackSpec, seed: int) -> AudioSegment:
    """A gentle melody over a drone, `spec.seconds` long."""
    rng = random.Random(seed)
    rate = spec.sample_rate
    total = int(spec.seconds * 1000)
    drone = Sine(spec.root_hz / 2, sample_rate=rate).to_audio_segment(total, volume=-24)
    melody = AudioSegment.silent(total, frame_rate=rate)
    t = 0
    while t < total:
        length = rng.choice((250, 500, 500, 750))
        note = spec.root_hz * 2 ** (rng.choice(SCALE) / 12)
        tone = Sine(note, sample_rate=rate).to_audio_segment(length, volume=-14).fade_in(20).fade_out(min(120, length // 2))
        melody = melody.overlay(tone, position=t)
        t += length
    mix = drone.overlay(melody).fade_in(200).fade_out(400)
    return mix.set_channels(spec.channels).set_frame_rate(rate)


def write_track(spec: TrackSpec, folder: Path, seed: int = 0) -> Path:
    out = folder / spec.file
    out.parent.mkdir(parents=True, exist_ok=True)
    audio = compose(spec, seed or hash(spec.file) & 0xFFFF)
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(audio.frame_rate), "-ac", str(audio.channels), "-i", "pipe:0",
        *spec.codec_args, "-ar", str(spec.sample_rate), "-ac", str(spec.channels),
        "-metadata", f"artist={spec.artist}", "-metadata", f"title={spec.title}",
        "-map_metadata", "-1", str(out),
    ]  # fmt: skip
    # -map_metadata -1 drops the (empty) input metadata; the -metadata options still apply.
    subprocess.run(cmd, input=audio.raw_data, check=True)
    if out.suffix == ".wav":  # WAV INFO chunks are not read by every tagger: add ID3 too
        from mutagen.id3 import TIT2, TPE1
        from mutagen.wave import WAVE

        wav = WAVE(out)
        wav.add_tags()
        wav.tags.add(TPE1(encoding=3, text=spec.artist))
        wav.tags.add(TIT2(encoding=3, text=spec.title))
        wav.save()
    return out


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "playlists/audio")
    for i, spec in enumerate(DEFAULT_STATION, 1):
        print(write_track(spec, folder, seed=i))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
