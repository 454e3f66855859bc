"""Track facts from tags (mutagen): "Artist - Title" (the file name as fallback), and what
royalty reports need (album, ISRC, label). A tag with several values (a tagger's leftovers:
TITLE=Living Caves, TITLE=Crossroads) is kept whole, its values joined as players show them."""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import mutagen

from ..wire.icy import clean_title
from .gain import tag_loudness
from .riff import read_info


@dataclass(frozen=True, slots=True)
class TrackInfo:
    path: Path
    artist: str
    title: str
    duration: float | None  # seconds, from the container, when it says
    album: str = ""
    isrc: str = ""
    label: str = ""
    year: str = ""
    genre: str = ""
    codec: str = ""  # as mutagen names the file type: MP3, OggVorbis, FLAC, WAVE ...
    sample_rate: int = 0
    channels: int = 0
    tag_loudness: tuple[float, float] | None = None  # (LUFS, peak dB) from ReplayGain / R128 tags

    @property
    def display(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title


JOIN = " / "  # how several values of one tag are shown
# A tag longer than this is lyrics or junk pasted into it: it is cut here, once, so it is not
# carried into every title on air, log line, status document and history row (QA: a 70 KB
# title stopped HLS's ID3 and Opus' comment packets; a 10 MB one grew /api/status to 50 MB).
MAX_TAG_CHARS = 300
READ_CHARS = 4 * MAX_TAG_CHARS  # of a value, before spaces are made one (and it is cut to MAX_TAG_CHARS)
GAIN_TAGS = ("r128_track_gain", "replaygain_track_gain", "replaygain_track_peak")


def _values(value) -> list[str]:
    items = value if isinstance(value, list) else getattr(value, "text", [value])
    out: list[str] = []
    for item in items:
        raw = str(item)
        text = clean_title(raw[:READ_CHARS])  # a line break or tab: a space, as ICY listeners get it
        if len(raw) > READ_CHARS:  # (clip() below makes it MAX_TAG_CHARS, ending with this)
            text += "\u2026"
        if text and text not in out:
            out.append(text)
    return out


def _first(tags, *keys: str) -> str:
    """The first of `keys` the tags have, all its values joined."""
    for key in keys:
        try:
            value = tags.get(key)
        except (KeyError, ValueError, TypeError):
            continue
        if value and (values := _values(value)):
            return clip(JOIN.join(values))
    return ""


def clip(text: str) -> str:
    """`text` cut to MAX_TAG_CHARS, with an ellipsis where it was cut."""
    return text if len(text) <= MAX_TAG_CHARS else text[: MAX_TAG_CHARS - 1].rstrip() + "\u2026"


def title_from_name(path: Path) -> str:
    """A file's title when its tags give none: its name, underscores as spaces."""
    return clean_title(path.stem.replace("_", " ")) or clean_title(path.name)


def read_track_info(path: Path) -> TrackInfo:
    """Blocking (file I/O): run it in a thread from the event loop."""
    fallback = title_from_name(path)
    try:  # a FIFO or a device would block the reader forever: only regular files are opened
        if not stat.S_ISREG(path.stat().st_mode):
            return TrackInfo(path, "", fallback, None)
        audio = mutagen.File(path, easy=True)
    except Exception:
        audio = None
    if audio is None:
        return TrackInfo(path, "", fallback, None)
    tags = audio.tags or {}
    if type(audio).__name__ == "WAVE" and not tags:  # no ID3 chunk: its RIFF INFO tags, if any
        tags = _riff(path)
    # Easy keys first; raw ID3 frame names for containers mutagen has no easy mode for (WAV, AIFF).
    artist = _first(tags, "artist", "albumartist", "performer", "TPE1", "TPE2")
    title = _first(tags, "title", "TIT2") or fallback
    length = getattr(audio.info, "length", None)
    gains = {key: value for key in GAIN_TAGS if (value := _first(tags, key))}
    return TrackInfo(
        path, artist, title, float(length) if length else None,
        album=_first(tags, "album", "TALB"), isrc=_first(tags, "isrc", "TSRC") or _raw_isrc(path, audio),
        label=_first(tags, "organization", "label", "publisher", "TPUB"), year=_first(tags, "date", "year", "TDRC")[:4],
        genre=_first(tags, "genre", "TCON"), codec=type(audio).__name__.removeprefix("Easy"), sample_rate=_rate(audio),
        channels=int(getattr(audio.info, "channels", 0) or 0), tag_loudness=tag_loudness(gains),
    )  # fmt: skip


# Where taggers put an ISRC that mutagen's easy keys do not read: ID3's user frame (ffmpeg's
# `-metadata ISRC=`), and iTunes' freeform atom (QA: royalty lines had no ISRC for either)
RAW_ISRC = ("TXXX:ISRC", "----:com.apple.iTunes:ISRC")


def _raw_isrc(path: Path, easy: object) -> str:
    if type(easy).__name__ not in ("EasyMP3", "EasyMP4", "EasyTrueAudio"):
        return ""
    try:
        raw = mutagen.File(path)
    except Exception:
        return ""
    tags = getattr(raw, "tags", None) or {}
    for key in RAW_ISRC:
        value = tags.get(key) if hasattr(tags, "get") else None
        items = getattr(value, "text", value) or []
        texts = [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v) for v in items]
        if found := clip(JOIN.join(t for t in (clean_title(t[:READ_CHARS]) for t in texts) if t)):
            return found
    return ""


def read_tags(paths: list[Path]) -> dict[Path, TrackInfo]:
    """Tags of many files at once (for no-repeat windows): run in the offload worker."""
    return {p: read_track_info(p) for p in paths}


def _riff(path: Path) -> dict[str, str]:
    try:
        return read_info(path)
    except (OSError, struct.error):
        return {}


def _rate(audio) -> int:
    rate = int(getattr(audio.info, "sample_rate", 0) or 0)
    return rate or (48000 if type(audio).__name__ == "OggOpus" else 0)  # Opus always decodes at 48 kHz
