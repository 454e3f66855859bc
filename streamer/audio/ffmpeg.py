"""Finding an ffmpeg that can encode MP3: $STREAMER_FFMPEG, then the system's, then the
one the imageio-ffmpeg wheel ships (so `pip install` alone is enough).

Decoders started at need get the ffmpeg that starts quickest: a DJ's first words wait for
theirs, and a track's that could not be started early (a skip, a fallback's choice, the music
after a bulletin) has 0.2 s before silence covers. imageio-ffmpeg's static build starts in
10-30 ms of CPU, where Debian's links 215 shared libraries, all bound at start (BIND_NOW), in
110-150 ms (60 % of it in the dynamic loader's symbol lookups). Everything else stays on the
first choice: a decoder started early shares the encoders' libraries (the static build's own
copy cost 15 MB of PSS in bench/vs_liquidsoap.py), and the encoders start once, where the
static build's threaded pipeline (ffmpeg 7+) costs more per paced feed (MP3 128 1.34 -> 1.66 %
of a core, 48 0.69 -> 0.90 %).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

ENV = "STREAMER_FFMPEG"

log = logging.getLogger("streamer.ffmpeg")


class FFmpegMissing(RuntimeError):
    pass


def _can_encode_mp3(exe: str) -> bool:
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libmp3lame" in out.stdout


def unusable(exe: str) -> str:
    """Why `exe` (a path, or a name on PATH) cannot be the station's ffmpeg; '' if it can."""
    found = shutil.which(exe) if os.sep not in exe else exe
    if found is None or not os.path.exists(found):
        return "missing" + ("" if os.sep in exe else " (not on PATH)")
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        return "not executable"
    if not _can_encode_mp3(found):
        return "cannot encode MP3 (no libmp3lame in its -encoders, or it does not run)"
    return ""


def _bundled() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def _candidates() -> list[str]:
    found: list[str] = []
    if os.environ.get(ENV):
        found.append(os.environ[ENV])
    system = shutil.which("ffmpeg")
    if system:
        found.append(system)
    bundled = _bundled()
    if bundled:
        found.append(bundled)
    return found


@functools.cache
def ffmpeg_exe() -> str:
    """Path of a working ffmpeg with libmp3lame. Blocking: call once at start-up."""
    tried = _candidates()
    for exe in tried:
        problem = unusable(exe)
        if not problem:
            return exe
        if exe == os.environ.get(ENV):  # asked for by name: say why it is passed over
            log.warning("%s=%s is not used: %s; looking for another ffmpeg (the system's, then imageio-ffmpeg's)", ENV, exe, problem)
    raise FFmpegMissing(
        "no ffmpeg with MP3 encoding (libmp3lame) found; tried: "
        + (", ".join(tried) or "nothing on PATH")
        + f". Install one (pip install imageio-ffmpeg, or apt-get install ffmpeg) or set {ENV}."
    )


@functools.cache
def quick_start_ffmpeg() -> str:
    """Path of the ffmpeg for decoders started at need: imageio-ffmpeg's static build when it
    works (it starts in a fifth of the time), else ffmpeg_exe(); $STREAMER_FFMPEG, when set, for
    this too. Blocking: call once at start-up."""
    bundled = _bundled()
    if os.environ.get(ENV) or bundled is None or unusable(bundled):
        return ffmpeg_exe()
    return bundled
