"""The one table of stream formats: what each content type is, how it is cut into units, how
ffmpeg reads it, and whether ICY titles can be interleaved in it (pure).

Ogg and WebM carry their titles inside the stream (comment headers, chained streams), and a
listener who joins late needs the stream's header pages first; interleaving ICY blocks into
them would corrupt them, so those mounts send no `icy-metaint` (as Icecast does).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Format:
    family: str  # mp3 | aac | ogg | webm | flac | other: how the stream is cut into units
    demuxer: str | None  # ffmpeg's input format, so a live decoder need not probe
    icy: bool  # ICY metadata may be interleaved


MP3 = Format("mp3", "mp3", True)
AAC = Format("aac", "aac", True)
OGG = Format("ogg", "ogg", False)
WEBM = Format("webm", "matroska", False)
FLAC = Format("flac", "flac", False)
OTHER = Format("other", None, True)  # passed through as bytes, as Icecast does

FORMATS: dict[str, Format] = {
    "audio/mpeg": MP3, "audio/mp3": MP3, "audio/mpeg3": MP3, "audio/x-mpeg": MP3,
    "audio/aac": AAC, "audio/aacp": AAC, "audio/x-aac": AAC,
    "audio/ogg": OGG, "application/ogg": OGG, "audio/opus": OGG, "audio/x-ogg": OGG, "audio/vorbis": OGG, "audio/x-vorbis+ogg": OGG,
    "audio/webm": WEBM, "video/webm": WEBM,
    "audio/flac": FLAC, "audio/x-flac": FLAC,
}  # fmt: skip


def media_type(content_type: str) -> str:
    """A Content-Type without its parameters, in lower case: `Audio/OGG; codecs=opus` -> `audio/ogg`."""
    return content_type.split(";")[0].strip().lower()


def format_of(content_type: str) -> Format:
    """The format a Content-Type names (parameters and case ignored)."""
    return FORMATS.get(media_type(content_type), OTHER)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a listener is told about a mount in the `icy-*` headers."""

    content_type: str = "audio/mpeg"
    bitrate: int | None = 128  # None: not known (a pass-through stream that does not say)
    sample_rate: int | None = 44100
    channels: int | None = 2
    name: str = ""
    description: str = ""
    genre: str = ""
    url: str = ""
    public: bool = False

    @property
    def audio_info(self) -> str:
        """`ice-audio-info` with what is known (empty if nothing is)."""
        parts = (("ice-samplerate", self.sample_rate), ("ice-bitrate", self.bitrate), ("ice-channels", self.channels))
        return ";".join(f"{k}={v}" for k, v in parts if v)

    @property
    def supports_icy(self) -> bool:
        return format_of(self.content_type).icy
