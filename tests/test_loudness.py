"""Loudness analysis, track gain and the true-peak limiter: plain values, and ffmpeg (its own
`ebur128`, and a 192 kHz `aresample` read with silence around it) as the referee."""

from __future__ import annotations

import math
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.audio.limiter import TruePeakLimiter, apply_gain
from streamer.audio.pcm import from_s16
from streamer.library.analysis import Analysis, analysis_command, parse_analysis
from streamer.library.gain import replaygain_to_gain, track_gain

from .conftest import need

RATE = 44100
LEAD, TAIL = 1.5, 2.0  # s of digital silence around the generated sounds
CODECS = {"flac": ("-c:a", "flac"), "mp3": ("-c:a", "libmp3lame", "-b:a", "192k"), "ogg": ("-c:a", "libvorbis", "-q:a", "6")}


def ffmpegs() -> list[str]:
    """Both ffmpeg builds the station may pick: the system's and imageio-ffmpeg's."""
    found = [need("ffmpeg")]
    try:
        import imageio_ffmpeg

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pytest.skip("imageio-ffmpeg is not installed")
    return found


def make(path: Path, source: str, seconds: float, codec: tuple[str, ...] = ()) -> Path:
    """Audio from a lavfi graph: `seconds` of it, stereo, LEAD s of silence before and TAIL after."""
    stereo = f"aformat=sample_rates={RATE}:channel_layouts=stereo"
    graph = f"{source},atrim=0:{seconds},{stereo},adelay=delays={LEAD * 1000:g}:all=1,apad=pad_dur={TAIL}"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-filter_complex", graph, *codec, str(path)], check=True)
    return path


def analyse(path: Path, ffmpeg: str | None = None) -> Analysis:
    out = subprocess.run(analysis_command(ffmpeg or ffmpeg_exe(), str(path)), capture_output=True, text=True)
    return parse_analysis(out.stderr)


def ebur128(path: Path, ffmpeg: str | None = None) -> dict[str, float]:
    """ffmpeg's own EBU R128 scan (full rate, double precision) of a file: I, LRA and true peak."""
    err = subprocess.run(
        [ffmpeg or ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true:dualmono=true:framelog=verbose",
         "-f", "null", "-"], capture_output=True, text=True,
    ).stderr  # fmt: skip
    summary = err[err.rindex("Summary:") :]
    return {
        "I": float(re.search(r"I:\s+(\S+) LUFS", summary).group(1)),
        "LRA": float(re.search(r"LRA:\s+(\S+) LU\b", summary).group(1)),
        "TP": float(re.search(r"Peak:\s+(\S+) dBFS", summary).group(1)),
    }


# --- analysis against ffmpeg's own ebur128 ---------------------------------------------------------


@pytest.mark.interop
def test_full_scale_1khz_sine_in_stereo_is_0_lufs(tmp_path):
    # BS.1770: a 0 dBFS 1 kHz sine is -3.01 LKFS per channel, so 0.0 on both; its true peak is 0 dBTP
    path = tmp_path / "sine.wav"  # no silence around it: the gating blocks that straddle an edge read lower
    sine = "aevalsrc=0.99997*sin(2*PI*1000*t)|0.99997*sin(2*PI*1000*t):s=44100:d=5"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", sine, "-c:a", "pcm_s16le", str(path)], check=True)
    got, ref = analyse(path), ebur128(path)
    assert got.integrated == pytest.approx(0.0, abs=0.1) and got.integrated == pytest.approx(ref["I"], abs=0.05)
    assert got.true_peak == pytest.approx(0.0, abs=0.05) and got.lra == pytest.approx(0.0, abs=0.1)
    mono = tmp_path / "mono.wav"  # aired on both speakers, so measured as dual mono: the same 0 LUFS
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", str(mono)], check=True)
    assert analyse(mono).integrated == pytest.approx(0.0, abs=0.1)


@pytest.mark.interop
@pytest.mark.parametrize("fmt", ["flac", "mp3", "ogg"])
def test_levels_18_lu_apart_match_ffmpegs_ebur128_and_the_cues_the_sound(tmp_path, fmt):
    seconds, results = 6.0, []
    for gain in (0, -10, -18):  # stereo pink noise at about -15, -25 and -33 LUFS
        source = f"anoisesrc=c=pink:r={RATE}:a=0.5:s=3[l];anoisesrc=c=pink:r={RATE}:a=0.5:s=4[r];[l][r]amerge=inputs=2,volume={gain}dB"
        path = make(tmp_path / f"pink{gain}.{fmt}", source, seconds, CODECS[fmt])
        got, ref = analyse(path), ebur128(path)
        assert got.integrated == pytest.approx(ref["I"], abs=0.1), (gain, got, ref)
        assert got.lra == pytest.approx(ref["LRA"], abs=0.1)
        assert got.true_peak == pytest.approx(ref["TP"], abs=0.15)
        assert got.cue_in == pytest.approx(LEAD, abs=0.05) and got.cue_out == pytest.approx(LEAD + seconds, abs=0.05), got
        assert got.duration == pytest.approx(LEAD + seconds + TAIL, abs=0.06) and not got.silent
        results.append(got.integrated)
    assert results[0] - results[1] == pytest.approx(10, abs=0.2) and results[1] - results[2] == pytest.approx(8, abs=0.2)


def chords(tag: str) -> str:
    """A music-like lavfi graph: two tones over tremolo pink noise (labels made unique by `tag`)."""
    return (f"sine=f=220:r={RATE},volume=0.25[{tag}a];sine=f=277:r={RATE},volume=0.2[{tag}b];"
            f"anoisesrc=c=pink:r={RATE}:a=0.2:s=5,tremolo=f=4:d=0.8[{tag}c];[{tag}a][{tag}b][{tag}c]amix=inputs=3:normalize=0")  # fmt: skip


@pytest.mark.interop
def test_music_like_mix_with_a_hole_inside_keeps_its_cues_at_the_ends(tmp_path):
    hole = f"anullsrc=r={RATE}:cl=mono,atrim=0:0.6[hole]"
    graph = f"{chords('p')},atrim=0:3[p];{hole};{chords('q')},atrim=0:3[q];[p][hole][q]concat=n=3:v=0:a=1"
    path = make(tmp_path / "music.flac", graph, 6.6)
    got, ref = analyse(path), ebur128(path)
    assert got.integrated == pytest.approx(ref["I"], abs=0.1) and got.true_peak == pytest.approx(ref["TP"], abs=0.15)
    assert got.cue_in == pytest.approx(LEAD, abs=0.05) and got.cue_out == pytest.approx(LEAD + 6.6, abs=0.05), got


@pytest.mark.interop
def test_a_loud_file_and_a_quiet_one_25_lu_apart_get_their_gains(tmp_path):
    loud = analyse(make(tmp_path / "loud.flac", f"anoisesrc=c=white:r={RATE}:a=0.9:s=1,lowpass=f=12000", 4.0))
    soft = analyse(make(tmp_path / "soft.ogg", f"sine=f=1000:r={RATE},volume=-32dB", 4.0, CODECS["ogg"]))
    assert loud.integrated > -10 and soft.integrated < -35 and loud.integrated - soft.integrated > 25
    assert track_gain(loud.integrated, loud.true_peak) == pytest.approx(-16 - loud.integrated, abs=1e-9)
    assert track_gain(soft.integrated, soft.true_peak) == 12.0  # capped at max_gain


@pytest.mark.interop
def test_near_silent_and_digitally_silent_files_get_the_maximum_gain(tmp_path):
    hiss = analyse(make(tmp_path / "hiss.flac", f"anoisesrc=c=pink:r={RATE}:a=0.002:s=2", 4.0))
    assert hiss.silent and hiss.true_peak < -34 and hiss.integrated < -50
    assert (hiss.cue_in, hiss.cue_out) == (0.0, hiss.duration)
    assert track_gain(hiss.integrated, hiss.true_peak) == 12.0
    silence = analyse(make(tmp_path / "silence.wav", "anullsrc=r=44100:cl=stereo", 3.0))
    assert silence.silent and silence.true_peak == -math.inf and silence.integrated == -70.0
    assert track_gain(silence.integrated, silence.true_peak) == 12.0


@pytest.mark.interop
def test_undecodable_files_raise_a_readable_reason(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(1).bytes(20000))
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    picture = tmp_path / "cover.png"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(picture)], check=True
    )
    for ffmpeg in ffmpegs():
        for path, reason in ((junk, "not an audio file"), (empty, "ends before any audio"), (picture, "no audio stream"),
                             (tmp_path / "gone.flac", "file not found")):  # fmt: skip
            with pytest.raises(ValueError, match=reason):
                analyse(path, ffmpeg)


@pytest.mark.interop
def test_both_ffmpeg_builds_give_the_same_analysis(tmp_path):
    path = make(tmp_path / "a: b.mp3", f"anoisesrc=c=pink:r={RATE}:a=0.3:s=9", 5.0, CODECS["mp3"])  # a colon: no URL
    first, second = (analyse(path, ffmpeg) for ffmpeg in ffmpegs())
    assert first.integrated == second.integrated and first.lra == second.lra and first.duration == second.duration
    assert first.true_peak == pytest.approx(second.true_peak, abs=1e-5)
    assert first.cue_in == pytest.approx(second.cue_in, abs=1e-4) and first.cue_out == pytest.approx(second.cue_out, abs=1e-4)


# --- parsing both builds' text ---------------------------------------------------------------------

FFMPEG_5_1 = """\
Input #0, flac, from 'file:t1.flac':
  Stream #0:0: Audio: flac, 44100 Hz, stereo, s32 (24 bit)
[ebur128@loud @ 0x55ae8ed663c0] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Loudness range:
    LRA:         0.0 LU
Stream mapping:
  Stream #0:0 (flac) -> ebur128:default
[silencedetect @ 0x55ae8ed8db80] silence_start: 0
[ametadata@cuein @ 0x55ae8ed8d740] frame:0    pts:0       pts_time:0
[ametadata@cuein @ 0x55ae8ed8d740] lavfi.silence_start=0
[silencedetect @ 0x55ae8ee01780] silence_start: 0
[ametadata@cueout @ 0x55ae8ee025c0] frame:0    pts:0       pts_time:0
[ametadata@cueout @ 0x55ae8ee025c0] lavfi.silence_start=0
out_time_us=104490
progress=continue
[silencedetect @ 0x55ae8ed8db80] silence_end: 1.50007 | silence_duration: 1.50007
[ametadata@cuein @ 0x55ae8ed8d740] frame:14   pts:64512   pts_time:1.46286
[ametadata@cuein @ 0x55ae8ed8d740] lavfi.silence_end=1.50007
[ametadata@cuein @ 0x55ae8ed8d740] lavfi.silence_duration=1.50007
[silencedetect @ 0x55ae8ee01780] silence_end: 1.50002 | silence_duration: 1.50002
[ametadata@cueout @ 0x55ae8ee025c0] lavfi.silence_end=1.50002
[silencedetect @ 0x55ae8ed8db80] silence_start: 4.49982
[ametadata@cuein @ 0x55ae8ed8d740] lavfi.silence_start=4.49982
[silencedetect @ 0x55ae8ee01780] silence_start: 4.49989
[ametadata@cueout @ 0x55ae8ee025c0] frame:44   pts:202752  pts_time:4.59755
[ametadata@cueout @ 0x55ae8ee025c0] lavfi.silence_start=4.49989
size=N/A time=00:00:06.50 bitrate=N/A speed=49.7x
out_time_us=6500000
out_time=00:00:06.500000
progress=end
[ebur128@loud @ 0x55ae8ed68300] Summary:

  Integrated loudness:
    I:         -29.1 LUFS
    Threshold: -39.2 LUFS

  Loudness range:
    LRA:         3.5 LU
    Threshold: -50.3 LUFS
[astats@tp @ 0x55ae8ee05740] Overall
[astats@tp @ 0x55ae8ee05740] Peak level dB: -19.224503
[silencedetect @ 0x55ae8ee01780] silence_end: 6.5 | silence_duration: 2.00011
[silencedetect @ 0x55ae8ed8db80] silence_end: 6.5 | silence_duration: 2.00018
"""

FFMPEG_9 = """\
[Parsed_silencedetect_1 @ 0x7fcb900043c0] silence_start: 0
[ametadata@cuein @ 0x7fcb90004840] lavfi.silence_start=0
[Parsed_silencedetect_4 @ 0x7fcb90005180] silence_start: 0
[ametadata@cueout @ 0x7fcb900055c0] lavfi.silence_start=0
[ametadata@cuein @ 0x7fcb90004840] frame:14   pts:64512   pts_time:1.462857
[ametadata@cuein @ 0x7fcb90004840] lavfi.silence_end=1.500068
[ametadata@cuein @ 0x7fcb90004840] lavfi.silence_duration=1.500068
[ametadata@cueout @ 0x7fcb900055c0] lavfi.silence_end=1.500023
[ametadata@cuein @ 0x7fcb90004840] lavfi.silence_start=4.499819
[ametadata@cueout @ 0x7fcb900055c0] lavfi.silence_start=4.499887
[ebur128@loud @ 0x7fcb90003f00] Summary:

  Integrated loudness:
    I:         -29.1 LUFS
    Threshold: -39.2 LUFS

  Loudness range:
    LRA:         3.5 LU
[astats@tp @ 0x7fcb90017d00] Overall
[astats@tp @ 0x7fcb90017d00] Peak level dB: -19.224503
[Parsed_silencedetect_4 @ 0x7fcb90005180] silence_end: 6.5 | silence_duration: 2.000113
[out#0/null @ 0x55a46cceb880] video:0KiB audio:4479KiB subtitle:0KiB other streams:0KiB
size=N/A time=00:00:06.50 bitrate=N/A speed=89.6x elapsed=0:00:00.07
out_time_us=6500000
progress=end
"""


def test_parse_ffmpeg_5_1_skips_the_empty_first_summary_and_the_unnamed_detectors():
    got = parse_analysis(FFMPEG_5_1)
    assert got == Analysis(-29.1, 3.5, -19.224503, 6.5, 1.50007, 4.49989, False)


def test_parse_ffmpeg_9():
    assert parse_analysis(FFMPEG_9) == Analysis(-29.1, 3.5, -19.224503, 6.5, 1.500068, 4.499887, False)


def test_parse_sound_from_start_to_end_and_silence_throughout():
    loud = re.sub(r"^\[ametadata.*\n", "", FFMPEG_9, flags=re.M)  # no silence anywhere: cues at the ends
    assert (parse_analysis(loud).cue_in, parse_analysis(loud).cue_out) == (0.0, 6.5)
    silent = "\n".join(line for line in FFMPEG_9.splitlines() if "silence_end" not in line and "=4.49" not in line)
    silent = silent.replace("Peak level dB: -19.224503", "Peak level dB: -inf").replace("-29.1 LUFS", "-70.0 LUFS")
    got = parse_analysis(silent)
    assert got.silent and got.true_peak == -math.inf and (got.cue_in, got.cue_out) == (0.0, 6.5)


def test_parse_without_progress_falls_back_to_the_stats_line():
    assert parse_analysis(FFMPEG_9.replace("out_time_us=6500000\n", "")).duration == 6.5


def test_parse_failures_say_why():
    with pytest.raises(ValueError, match="file not found"):
        parse_analysis("Error opening input file /music/gone.mp3.\nError opening input files: No such file or directory\n")
    with pytest.raises(ValueError, match="damaged"):
        parse_analysis(FFMPEG_9 + "Decode error rate 0.833333 exceeds maximum 0.666667\nConversion failed!\n")
    with pytest.raises(ValueError, match="no loudness summary"):
        parse_analysis(FFMPEG_9.replace("[astats@tp", "[other"))
    with pytest.raises(ValueError, match="empty"):
        parse_analysis(FFMPEG_9.replace("out_time_us=6500000", "out_time_us=0"))
    with pytest.raises(ValueError, match="ffmpeg printed nothing"):
        parse_analysis("")


# --- gain -------------------------------------------------------------------------------------------


def test_track_gain_reaches_the_target_caps_and_leaves_small_overs_to_the_limiter():
    assert track_gain(-20.0, -8.0) == 4.0  # -16 LUFS, true peak -4 dBTP: nothing to do
    assert track_gain(-9.0, 0.5) == -7.0  # loud master: turned down
    assert track_gain(-23.0, -6.0) == 7.0  # peak +1 dBTP after gain: 2 dB over, the limiter's
    assert track_gain(-30.0, -3.0) == 5.0  # +14 would put the peak 10 dB over: gain stops at 3 dB over
    assert track_gain(-40.0, -30.0) == 12.0  # quiet: max_gain
    assert track_gain(-70.0, -math.inf) == 12.0 and track_gain(-math.inf, -math.inf) == 12.0
    assert track_gain(-30.0, -3.0, limiter_room=0.0) == 2.0  # no limiter: peak exactly at the ceiling
    assert track_gain(-20.0, -10.0, target=-14.0, max_gain=3.0) == 3.0


def test_replaygain_and_r128_tags_are_converted_to_the_target():
    assert replaygain_to_gain({"replaygain_track_gain": ["-7.50 dB"]}) == pytest.approx(-5.5)  # -10.5 LUFS
    assert replaygain_to_gain({"REPLAYGAIN_TRACK_GAIN": "+3.2 dB", "replaygain_track_peak": "0.5"}) == pytest.approx(5.2)
    # -38 LUFS wants +22 (capped at +12), but the peak (-6.02 dBFS) may rise only to 3 dB over the ceiling
    assert replaygain_to_gain({"replaygain_track_gain": "+20 dB", "replaygain_track_peak": "0.5"}) == pytest.approx(8.02, abs=0.01)
    assert replaygain_to_gain({"R128_TRACK_GAIN": ["-1280"]}) == pytest.approx(2.0)  # -18 LUFS
    assert replaygain_to_gain({"r128_track_gain": "512"}, target=-23.0) == pytest.approx(2.0)  # the tag is the gain to -23

    class Frame:  # a mutagen ID3 TXXX frame
        text = ["-2.00 dB"]

    assert replaygain_to_gain({"TXXX:REPLAYGAIN_TRACK_GAIN": Frame()}) == pytest.approx(0.0)
    assert replaygain_to_gain({"----:com.apple.iTunes:replaygain_track_gain": [b"-4.0 dB"]}) == pytest.approx(-2.0)
    assert replaygain_to_gain({"title": "x"}) is None and replaygain_to_gain({"replaygain_track_gain": "loud"}) is None


# --- the limiter ------------------------------------------------------------------------------------


def pcm_of(source: str, seconds: float) -> bytes:
    """s16le stereo from a lavfi graph, with 0.3 s of silence on both sides (so the referee's
    resampler starts and ends on silence)."""
    graph = f"{source},atrim=0:{seconds},aformat=sample_rates={RATE}:channel_layouts=stereo,adelay=delays=300:all=1,apad=pad_dur=0.3"
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-filter_complex", graph, "-f", "s16le", "-"],
                          capture_output=True, check=True).stdout  # fmt: skip


def limit(pcm: bytes, gain_db: float = 0.0, chunk: int = RATE // 10, **kw) -> tuple[bytes, TruePeakLimiter]:
    """Through a limiter in `chunk`-sample pieces; the delay taken off so output lines up with input."""
    limiter = TruePeakLimiter(RATE, 2, **kw)
    step = chunk * 4
    out = b"".join(limiter.process(pcm[i : i + step], gain_db) for i in range(0, len(pcm), step)) + limiter.flush()
    return out[limiter.delay * 4 :], limiter


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return path


def referee_true_peaks(path: Path) -> tuple[float, float]:
    """(ffmpeg ebur128's true peak, our analysis command's 192 kHz true peak) of a file, dBTP."""
    return ebur128(path)["TP"], analyse(path).true_peak


def fs4_sine(peak_sample: int, seconds: float) -> bytes:
    """The classic: fs/4 at 45 degrees, every sample at +-0.707 of the true peak (3 dB under)."""
    n = np.arange(int(RATE * seconds))
    wave_ = np.rint(peak_sample * np.sqrt(2) * np.sin(np.pi / 2 * n + np.pi / 4)).astype("<i2")
    silence = np.zeros(int(RATE * 0.3), dtype="<i2")
    return np.repeat(np.concatenate((silence, wave_, silence)), 2).tobytes()


@pytest.mark.interop
@pytest.mark.parametrize(
    ("name", "source", "over_db"),
    [
        ("pink noise", f"anoisesrc=c=pink:r={RATE}:a=0.5:s=4", 6.0),
        ("white noise", f"anoisesrc=c=white:r={RATE}:a=0.5:s=3", 6.0),
        ("white noise to 18 kHz", f"anoisesrc=c=white:r={RATE}:a=0.5:s=3,lowpass=f=18000:p=2,lowpass=f=18000:p=2", 6.0),
        ("music-like mix", chords("m"), 8.0),
        ("fs/4 sine at 45 degrees", None, None),  # sample peaks at -1.07 dBFS, true peak +1.96 dBTP
    ],
)
def test_limiter_keeps_the_true_peak_under_the_ceiling(tmp_path, name, source, over_db):
    pcm = fs4_sine(29000, 5.0) if source is None else pcm_of(source, 5.0)
    peak_in = analyse(write_wav(tmp_path / "in.wav", pcm)).true_peak
    gain_db = 0.0 if over_db is None else -1.0 + over_db - peak_in  # the track gain that puts it `over_db` over
    assert peak_in + gain_db > -1.0 + 2.9
    out, _ = limit(pcm, gain_db)
    assert len(out) == len(pcm)
    ebur, resampled = referee_true_peaks(write_wav(tmp_path / "out.wav", out))
    print(f"{name}: {peak_in + gain_db:+.2f} dBTP in; out: ebur128 {ebur:+.1f}, 192 kHz {resampled:+.3f} dBTP")
    assert ebur <= -1.0 + 0.1 and resampled <= -1.0 + 0.1


def test_fs4_sine_is_reduced_by_its_true_peak_not_its_sample_peak():
    out, _ = limit(fs4_sine(29000, 2.0))
    steady = np.frombuffer(out, "<i2")[2 * RATE : 4 * RATE].astype(float)  # 0.7 s to 1.7 s in, both channels
    assert 20 * math.log10(np.abs(steady).max() * math.sqrt(2) / 32768) == pytest.approx(-1.0, abs=0.02)  # true peak = ceiling


def test_gain_db_reports_the_reduction_and_returns_to_zero():
    limiter = TruePeakLimiter(RATE, 2)
    loud = fs4_sine(29000, 1.0)[: RATE // 10 * 4 * 8]
    for i in range(0, len(loud), 17640):
        limiter.process(loud[i : i + 17640])
    assert limiter.gain_db == pytest.approx(-2.96, abs=0.05)
    quiet = bytes(RATE * 4 // 10)
    for _ in range(20):  # 2 s of silence: well past the release
        limiter.process(quiet)
    assert limiter.gain_db == 0.0


def test_audio_under_the_ceiling_passes_bit_exact():
    rng = np.random.default_rng(2)
    t = np.arange(RATE * 3) / RATE
    near = 32768 * 10 ** (-2 / 20) * np.sin(2 * np.pi * 997 * t)  # -2 dBTP: inspected, left alone
    quiet = rng.standard_normal(len(t)) * 300  # -30 dBFS: not even inspected
    pcm = np.stack((near, np.where(t < 1.5, quiet, near * 0.5)), axis=1)
    data = np.rint(pcm).astype("<i2").tobytes()
    out, limiter = limit(data)
    assert out == data and limiter.gain_db == 0.0


def test_output_does_not_depend_on_the_chunk_size():
    rng = np.random.default_rng(7)
    t = np.arange(RATE * 4) / RATE
    bursts = np.where((t % 1.0) < 0.5, 1.0, 0.03)  # limited, released, skipped, again
    pcm = np.stack((rng.standard_normal(len(t)) * 15000 * bursts, 30000 * np.sin(2 * np.pi * 11025 * t + 0.8) * bursts), axis=1)
    data = np.clip(np.rint(pcm), -32768, 32767).astype("<i2").tobytes()
    whole, _ = limit(data, 3.0, chunk=len(t))
    assert limit(data, 3.0, chunk=4410)[0] == whole
    assert limit(data, 3.0, chunk=1013)[0] == whole
    limiter, ragged, sizes, i = TruePeakLimiter(RATE, 2), [], [1, 7, 300, 4410, 2, 9000], 0
    while i < len(data):
        step = sizes[len(ragged) % len(sizes)] * 4
        ragged.append(limiter.process(data[i : i + step], 3.0))
        i += step
    assert (b"".join(ragged) + limiter.flush())[limiter.delay * 4 :] == whole


def test_delay_is_the_lookahead_and_a_first_call_starts_with_the_past():
    limiter = TruePeakLimiter(48000, 1, lookahead=0.005)
    assert limiter.delay == 240
    out = limiter.process(np.full(1000, 1000, dtype="<i2").tobytes())
    assert np.frombuffer(out, "<i2").tolist() == [0] * 240 + [1000] * 760
    assert limiter.process(b"") == b""
    with pytest.raises(ValueError, match="whole number"):
        limiter.process(b"\x00")
    with pytest.raises(ValueError, match="too short"):
        TruePeakLimiter(44100, 2, lookahead=0.0005)


def test_a_track_gain_that_passes_full_scale_is_limited_not_clipped():
    pcm = fs4_sine(23000, 1.0)  # true peak -0.06 dBTP; +6 dB would clip in s16
    out, _ = limit(pcm, 6.0)
    samples = np.frombuffer(out, "<i2")
    assert np.abs(samples).max() < 32767 * 10 ** (-1 / 20) / math.sqrt(2) * 1.01


def test_apply_gain():
    pcm = np.array([1000, -1000, 20000, -20000], dtype="<i2").tobytes()
    assert apply_gain(pcm, 2, 0.0) is pcm
    assert np.frombuffer(apply_gain(pcm, 2, -6.0206), "<i2").tolist() == [500, -500, 10000, -10000]
    assert np.frombuffer(apply_gain(pcm, 2, 6.0), "<i2").tolist() == [1995, -1995, 32767, -32768]  # clipped, not wrapped
    with pytest.raises(ValueError):
        apply_gain(pcm[:3], 2, 1.0)


def test_float_pcm_is_limited_as_sixteen_bit_is():
    """The station's PCM is float (pcm.py): the same audio as float and as s16 comes out the same
    (to the 16-bit rounding), and a float input past full scale is brought under the ceiling."""
    source = pcm_of("anoisesrc=color=pink:amplitude=0.9:seed=3", 2.0)
    as_s16, _ = limit(source, gain_db=6.0)
    floats = from_s16(source)
    limiter = TruePeakLimiter(RATE, 2, ceiling_db=-1.0, sample_format="f32")
    as_f32 = b"".join(limiter.process(floats[i : i + 17640], 6.0) for i in range(0, len(floats), 17640)) + limiter.flush()
    got = np.frombuffer(as_f32, dtype="<f4")[limiter.delay * 2 :]
    assert len(got) * 2 == len(as_s16)
    assert np.abs(got * 32768 - np.frombuffer(as_s16, dtype="<i2")).max() <= 0.5001
    assert np.abs(got).max() < 10 ** (-1 / 20)  # under the ceiling: no sample past full scale reaches the encoders
