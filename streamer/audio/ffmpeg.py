"""Finding an ffmpeg that can encode MP3: $STREAMER_FFMPEG, then the system's, then the
one the imageio-ffmpeg wheel ships (so `pip install` alone is enough)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess


class FFmpegMissing(RuntimeError):
    pass


def _can_encode_mp3(exe: str) -> bool:
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libmp3lame" in out.stdout


def _candidates() -> list[str]:
    found: list[str] = []
    if os.environ.get("STREAMER_FFMPEG"):
        found.append(os.environ["STREAMER_FFMPEG"])
    system = shutil.which("ffmpeg")
    if system:
        found.append(system)
    try:
        import imageio_ffmpeg

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    return found


@functools.cache
def ffmpeg_exe() -> str:
    """Path of a working ffmpeg with libmp3lame. Blocking: call once at start-up."""
    tried = _candidates()
    for exe in tried:
        if _can_encode_mp3(exe):
            return exe
    raise FFmpegMissing(
        "no ffmpeg with MP3 encoding (libmp3lame) found; tried: "
        + (", ".join(tried) or "nothing on PATH")
        + ". Install one (pip install imageio-ffmpeg, or apt-get install ffmpeg) or set STREAMER_FFMPEG."
    )
