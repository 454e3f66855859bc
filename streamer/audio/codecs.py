"""What each stream format is made of: ffmpeg's options for the encoder, how its output is cut
into units with their sample counts, and the codec's priming (the samples a decoder drops).

MP3 and AAC run as one continuous encoder per mount (titles travel as ICY metadata, placed by
sample). Opus, Vorbis and FLAC go in Ogg, and each title starts a new chain with its own
comment header (how Ogg players learn titles): Opus chains are cut from one continuous
encoder's pages (wire/opus_chains.py); Vorbis and FLAC run one encoder per chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..settings import MountConfig
from ..wire.framing import AdtsFramer, adts_samples
from ..wire.mp3 import FrameSplitter
from ..wire.text import MAX_TITLE_CHARS
from .pcm import SAMPLE_BYTES, SAMPLE_FORMAT

# LAME's encoder delay (576) plus its decoder delay (529), which ffmpeg reports as initial
# padding: without a Xing/LAME tag, a listener's decoder plays these samples first.
MP3_PRIMING = 1105
AAC_PRIMING = 1024  # ffmpeg's AAC encoder: one frame of priming
OGG_PAGE = "100000"  # µs of audio per Ogg page (ffmpeg's default is a whole second: too coarse to pace)


# What an encoder is fed: the station's float PCM as 16-bit for the lossy codecs (half the bytes
# through each pipe; the 2026-11-28 A/B on the Liquidsoap bench's station: 8.2 % of a core
# against 8.4 %, 240 s), the float itself for FLAC, which keeps it as 24 bits. The limiter has
# brought it under the ceiling by then; with loudness off, past full scale is clipped here
# instead of in the listeners' decoders.
FEED_BYTES = {"s16le": 2, SAMPLE_FORMAT: SAMPLE_BYTES}


def feed_format(mount: MountConfig) -> str:
    return SAMPLE_FORMAT if mount.format == "flac" else "s16le"


@dataclass(frozen=True, slots=True)
class Codec:
    format: str
    chained: bool  # a new encoder (an Ogg chain) for each title
    priming: int  # output samples before the first real one


def codec_for(mount: MountConfig) -> Codec:
    if mount.format == "mp3":
        return Codec("mp3", False, MP3_PRIMING)
    if mount.format == "aac":
        return Codec("aac", False, AAC_PRIMING)
    if mount.format == "opus":
        return Codec("opus", False, 0)  # its pages re-wrapped as chains; its priming is in its OpusHead
    return Codec(mount.format, True, 0)


def encoder_command(ffmpeg: str, mount: MountConfig, in_rate: int, in_channels: int, title: str = "") -> list[str]:
    """ffmpeg reading the station's PCM on stdin and writing `mount`'s stream to stdout."""
    return encoders_command(ffmpeg, [(mount, "pipe:1")], in_rate, in_channels, title)


def encoders_command(ffmpeg: str, outputs: Sequence[tuple[MountConfig, str]], in_rate: int, in_channels: int, title: str = "") -> list[str]:
    """ffmpeg reading the station's PCM on stdin once and writing each (mount, target) output,
    each with its own encoder, to its own target (pipe:1, pipe:N)."""
    mapped = ["-map", "0:a:0"] if len(outputs) > 1 else []
    (fed,) = {feed_format(mount) for mount, _ in outputs}  # one process is fed one sample format
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        # No input probing: by default ffmpeg holds ~1.1 s of raw PCM before its first frame,
        # which would eat the feeder's lookahead and leave the pacer releasing frame by frame.
        "-probesize", "32", "-analyzeduration", "0",
        "-f", fed, "-ar", str(in_rate), "-ac", str(in_channels), "-i", "pipe:0",
        *(option for mount, target in outputs for option in [*mapped, *output_options(mount, title, target)]),
    ]  # fmt: skip


def output_options(mount: MountConfig, title: str = "", target: str = "pipe:1") -> list[str]:
    """ffmpeg's options after `-i pipe:0`: the codec, its settings and the muxer, to `target`."""
    rate, channels = str(mount.sample_rate), str(mount.channels)
    common = ["-ar", rate, "-ac", channels]
    if mount.format == "mp3":
        codec = ["-c:a", "libmp3lame", "-b:a", f"{mount.bitrate}k", *common, "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3"]
    elif mount.format == "aac":
        codec = ["-c:a", "aac", "-b:a", f"{mount.bitrate}k", *common, "-f", "adts"]
    else:
        # Opus: constrained VBR (Liquidsoap's default), so a 96 kbit/s mount sends about 97 kbit/s;
        # libopus's unconstrained default sent 108-122 kbit/s of the shipped music.
        opus = ["-c:a", "libopus", "-b:a", f"{mount.bitrate}k", "-vbr", "constrained"]
        encoder = {"opus": opus, "vorbis": ["-c:a", "libvorbis", "-b:a", f"{mount.bitrate}k"]}
        meta = ["-metadata", f"title={title[:MAX_TITLE_CHARS]}"] if title else []
        codec = [*encoder.get(mount.format, ["-c:a", "flac"]), *common, *meta, "-page_duration", OGG_PAGE, "-f", "ogg"]
    return [*codec, "-flush_packets", "1", target]


class Units:
    """Cuts a continuous encoder's output into (unit, samples) pairs: MP3 frames or ADTS frames."""

    def __init__(self, codec: Codec) -> None:
        self.mp3 = FrameSplitter() if codec.format == "mp3" else None
        self.adts = AdtsFramer() if codec.format == "aac" else None

    def feed(self, data: bytes) -> Iterator[tuple[bytes, int]]:
        if self.mp3 is not None:
            for header, frame in self.mp3.feed(data):
                yield frame, header.samples
        elif self.adts is not None:
            for frame in self.adts.feed(data):
                yield frame, adts_samples(frame)
