"""Loudness analysis (EBU R128), true peak and cue points of one file, in one ffmpeg pass.

Each track is analysed once, in ONE ffmpeg pass that prints everything to stderr:

- integrated loudness and loudness range: ffmpeg's `ebur128` at the file's own rate, with
  `dualmono` so a mono file is measured as it is aired (on both speakers, +3 dB over one);
- true peak: a float copy of the stream, with 100 ms of silence on both sides, upsampled to
  192 kHz (4x for 48 kHz, 4.35x for 44.1 kHz: the oversampling of ebur128's own
  `peak=true`), its sample peak read by `astats`. ebur128's own figure costs more (double
  precision), read an fs/4 sine that starts mid-wave 0.5 dB high (the resampler's start-up:
  with silence in front it reads right) and a 1 kHz MP3 0.6 dB under its own sample peak
  (its resampler is not flushed at the end);
- cue points: two `silencedetect`s (-34 dBFS for cue-in, -42 dBFS for cue-out, Liquidsoap's
  autocue thresholds, on sample peaks) whose events an `ametadata@cuein`/`@cueout` prints
  under its own name (ffmpeg 5.1 logs both detectors as "[silencedetect @ 0x...]");
- duration: `-progress` (microseconds, to stderr too).

Why this graph: CPU time for 10 min of 44.1 kHz stereo on one core (`taskset -c 1`,
`-threads 1`, best of 2-3), as speed = audio time / CPU time, ffmpeg 5.1 / 9.0:

=====================================================  ===========  ===========  ===========
graph                                                  MP3          FLAC         Ogg Vorbis
=====================================================  ===========  ===========  ===========
decode only                                            1100x/820x   1070x/990x   1450x/980x
ebur128 peak=true, then the two silencedetects         206x/218x    204x/216x    216x/228x
ebur128, silencedetects; asplit to float 192 kHz       254x/261x    253x/272x    268x/262x
  and astats (the chosen graph, before edge padding)
as chosen but 176.4 kHz (exact 4x for 44.1 kHz only)   262x/278x    265x/283x    281x/287x
as 176.4 kHz, fixed-point MP3 decoder (-c:a mp3)       238x/256x
as 176.4 kHz, ebur128 on a 32 kHz copy                 262x/255x    265x/270x    271x/273x
=====================================================  ===========  ===========  ===========

The command as returned, on one hour of 44.1 kHz stereo: 14-15 s of one core (MP3 251x/248x,
FLAC 236x/258x, Ogg 263x/249x); the brief asks for 100x. Integrated loudness stays at the full
rate: a 32 kHz copy saves nothing (its resampler costs what the K-filter saves) and read pink
noise 0.2-0.4 LU low. The caller runs the command at low priority (nice), one file at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CUE_IN_DB = -34.0  # cue-in: where the level first rises above this (dBFS, sample peak)
CUE_OUT_DB = -42.0  # cue-out: where it last falls below this
MIN_SILENCE = 0.1  # s under a threshold before it counts: zero crossings and short gaps in the music do not
TRUE_PEAK_RATE = 192000  # Hz: true peak read from the stream oversampled to this rate
EDGE_PAD_MS = 100  # silence around the true-peak branch (see above)
_LEADING = 1e-3  # s: a silence starting this close to 0 is the track's leading silence


@dataclass(frozen=True, slots=True)
class Analysis:
    integrated: float  # LUFS (-70 for silence: ebur128's floor)
    lra: float  # LU
    true_peak: float  # dBTP, max over channels (-inf for digital silence)
    duration: float  # s
    cue_in: float  # s: first rise above CUE_IN_DB (0 when the track starts with sound)
    cue_out: float  # s: last fall below CUE_OUT_DB (the duration when it ends with sound)
    silent: bool  # nothing above CUE_IN_DB anywhere: nothing worth airing


def analysis_command(ffmpeg: str, path: str) -> list[str]:
    """ffmpeg's arguments for one analysis pass of `path`; everything parse_analysis needs goes
    to stderr. A non-zero exit status means the analysis is incomplete."""
    graph = (
        "[0:a:0]ebur128@loud=framelog=verbose:dualmono=true,"
        f"silencedetect=n={CUE_IN_DB:g}dB:d={MIN_SILENCE:g},ametadata@cuein=print,ametadata=delete,"
        f"silencedetect=n={CUE_OUT_DB:g}dB:d={MIN_SILENCE:g},ametadata@cueout=print,asplit[out][tp];"
        f"[tp]aformat=flt,adelay=delays={EDGE_PAD_MS}:all=1,apad=pad_dur={EDGE_PAD_MS / 1000:g},aresample={TRUE_PEAK_RATE},"
        "astats@tp=metadata=0:measure_perchannel=none:measure_overall=Peak_level,anullsink"
    )
    source = path if path.startswith("file:") else "file:" + path  # "Artist: Title.mp3" is no URL
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-threads", "1", "-filter_threads", "1",
        "-i", source, "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_f64le", "-f", "null", "-progress", "pipe:2", "-",
    ]  # fmt: skip


_SUMMARY = re.compile(r"^\[ebur128@loud @ [^\]]*\] Summary:", re.M)
_INTEGRATED = re.compile(r"^\s*I:\s*(-?[\d.]+|-?inf) LUFS", re.M)
_LRA = re.compile(r"^\s*LRA:\s*(-?[\d.]+) LU\b", re.M)
_PEAK = re.compile(r"^\[astats@tp @ [^\]]*\] Peak level dB: (\S+)", re.M)
_DURATION = re.compile(r"^out_time_us=(\d+)\s*$", re.M)
_STATS_TIME = re.compile(r"\btime=(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_CUE = re.compile(r"^\[ametadata@(cuein|cueout) @ [^\]]*\] lavfi\.silence_(start|end)=(\S+)", re.M)
_LOG_PREFIX = re.compile(r"^\[[^\]]* @ [^\]]*\] ")  # "[mp3 @ 0x55d...] "
_REASONS = (  # ffmpeg's words -> a DJ's
    ("No such file or directory", "file not found"),
    ("Permission denied", "permission denied"),
    ("matches no streams", "the file has no audio stream"),
    ("Decode error rate", "too many decoding errors: the file is damaged"),
    ("Invalid data found when processing input", "not an audio file ffmpeg can decode"),
    ("Failed to read frame size", "not an audio file ffmpeg can decode"),
    ("End of file", "the file ends before any audio"),
    ("Cannot determine format of input", "no audio could be decoded"),
)


def parse_analysis(text: str) -> Analysis:
    """The figures from analysis_command's stderr (ffmpeg 5.1 to 9). ValueError, with a reason
    a DJ can read, when the text holds no complete summary."""
    if "Conversion failed!" in text:
        raise ValueError(f"analysis failed: {failure_reason(text)}")
    summaries = list(_SUMMARY.finditer(text))  # 5.1 prints an empty one for a first, discarded graph
    peak = _PEAK.findall(text)
    if not summaries or not peak:
        raise ValueError(f"no loudness summary from ffmpeg: {failure_reason(text)}")
    tail = text[summaries[-1].end() :]
    integrated, lra = _INTEGRATED.search(tail), _LRA.search(tail)
    if integrated is None or lra is None:
        raise ValueError("ffmpeg's loudness summary is incomplete (no I: or LRA: line)")
    duration = _duration(text)
    if duration <= 0:
        raise ValueError("no audio was decoded (the file is empty)")
    true_peak = float(peak[-1])
    cue_in, cue_out, silent = _cues(text, duration)
    silent = silent or true_peak < CUE_IN_DB  # shorter than MIN_SILENCE and quiet: silencedetect says nothing
    return Analysis(float(integrated.group(1)), float(lra.group(1)), true_peak, duration, cue_in, cue_out, silent)


def _duration(text: str) -> float:
    if found := _DURATION.findall(text):
        return int(found[-1]) / 1e6
    if found := _STATS_TIME.findall(text):  # 10 ms resolution: only if -progress said nothing
        h, m, s = found[-1]
        return int(h) * 3600 + int(m) * 60 + float(s)
    return 0.0


def _cues(text: str, duration: float) -> tuple[float, float, bool]:
    """(cue-in, cue-out, silent) from the two detectors' silence_start/silence_end events."""
    events: dict[str, list[tuple[str, float]]] = {"cuein": [], "cueout": []}
    for detector, kind, value in _CUE.findall(text):
        events[detector].append((kind, float(value)))
    cue_in, silent = 0.0, False
    first = events["cuein"][:2]
    if first and first[0][0] == "start" and first[0][1] <= _LEADING:
        if len(first) == 2:
            cue_in = first[1][1]
        else:  # silent from the first sample to the last: silencedetect reports no end
            silent = True
    cue_out = duration
    last = events["cueout"][-1:]
    if last and last[0][0] == "start" and not silent:
        cue_out = last[0][1]
    cue_in = min(max(cue_in, 0.0), duration)
    return cue_in, min(max(cue_out, cue_in), duration), silent


def failure_reason(text: str) -> str:
    """ffmpeg's complaint in a DJ's words (its last error line when none is known)."""
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    lines = [_LOG_PREFIX.sub("", line).strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line or "failed" in line.lower()]
    return (errors or lines or ["ffmpeg printed nothing"])[-1][:200]


_MAGIC = (  # (bytes, offset, what the file claims to be)
    (b"ID3", 0, "an MP3"), (b"OggS", 0, "an Ogg"), (b"fLaC", 0, "a FLAC"), (b"RIFF", 0, "a WAV"), (b"FORM", 0, "an AIFF"),
    (b"ftyp", 4, "an MP4/M4A"), (b"\x30\x26\xb2\x75", 0, "a WMA"), (b"MAC ", 0, "an APE"), (b"wvpk", 0, "a WavPack"),
)  # fmt: skip
_NOT_AUDIO = ("not an audio file ffmpeg can decode", "no audio could be decoded", "the file ends before any audio")


def claimed_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is (None: nothing audio-like)."""
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame's sync word
        return "an MP3" if head[1] & 0x06 else "an AAC"
    return None


def describe_failure(head: bytes, size: int, reason: str) -> str:
    """A DJ's words for why a file does not play, from its first bytes and ffmpeg's reason:
    "empty file", "not an audio file (it is text)", "header damaged: it starts like an MP3 ...".
    """
    if size == 0:
        return "empty file"
    if reason not in _NOT_AUDIO:
        return reason
    kind = claimed_kind(head)
    if kind is not None:
        return f"header damaged: it starts like {kind} file, but no audio could be read from it"
    return "not an audio file (it is text)" if _is_text(head[:512]) else "not an audio file"


def _is_text(sample: bytes) -> bool:
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            text = sample[: len(sample) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)
    return False


def truncation(decoded: float, declared: float | None) -> str:
    """'truncated after 30 s (the file says 180 s)' when decoding stopped well short of the
    length the file's header declares; '' otherwise."""
    if not declared or decoded >= declared - max(1.0, 0.02 * declared):
        return ""
    return f"truncated after {decoded:.0f} s (the file says {declared:.0f} s)"
