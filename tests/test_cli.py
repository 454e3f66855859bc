"""The command line as a user meets it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from streamer.audio.ffmpeg import ENV, ffmpeg_exe, quick_start_ffmpeg, unusable

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamer", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_help_everywhere():
    top = run("--help")
    assert top.returncode == 0 and "serve" in top.stdout and "check" in top.stdout
    serve = run("serve", "--help")
    assert serve.returncode == 0 and "--config" in serve.stdout and "--port" in serve.stdout and "--host" in serve.stdout
    assert run("check", "--help").returncode == 0


def test_refuses_public_address_with_example_passwords(tmp_path):
    (tmp_path / "playlists").mkdir()
    (tmp_path / "config.yaml").write_text("server: {host: 0.0.0.0, port: 1}\nusers:\n  admin: {password: Str0ng-admin}\n")
    out = run("serve", "--config", str(tmp_path / "config.yaml"))
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0" in out.stderr
    assert "source, relay" in out.stderr and "STREAMER_SOURCE_PASSWORD" in out.stderr and "STREAMER_ADMIN_PASSWORD" not in out.stderr


def test_refuses_example_passwords_behind_a_reverse_proxy_too(tmp_path):
    """QA: on 127.0.0.1 behind the documented nginx, admin:hackme opened the dashboard to anyone."""
    (tmp_path / "playlists").mkdir()
    for server, face in (
        ("{port: 1, trusted_proxies: [127.0.0.1]}", "serve behind a reverse proxy (server.trusted_proxies)"),
        ("{port: 1, public_url: 'https://radio.example.org'}", "serve as https://radio.example.org (server.public_url)"),
    ):
        (tmp_path / "config.yaml").write_text(f"server: {server}\n")
        out = run("serve", "--config", str(tmp_path / "config.yaml"))
        assert out.returncode == 2 and f"refusing to {face} while the source, admin, relay password(s)" in out.stderr, out.stderr


def test_check_says_what_serve_would_refuse(tmp_path):
    """QA: with trusted_proxies as the README and deploy/nginx.conf say and the example passwords,
    `streamer check` said ok and `streamer serve` refused to start."""
    shutil.copytree(ROOT / "playlists", tmp_path / "playlists")
    (tmp_path / "config.yaml").write_text("server: {port: 1, trusted_proxies: [127.0.0.1]}\n")
    out = run("check", "--config", str(tmp_path / "config.yaml"))
    refusal = "refusing to serve behind a reverse proxy (server.trusted_proxies) while the source, admin, relay password(s)"
    assert out.returncode == 1 and refusal in out.stderr and "ok:" not in out.stdout, (out.stdout, out.stderr)
    (tmp_path / "config.yaml").write_text("server: {port: 1}\n")  # on this machine only: the example passwords are fine
    assert run("check", "--config", str(tmp_path / "config.yaml")).returncode == 0


def test_config_errors_name_file_line_and_field(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("server:\n  port: eighty\n")
    out = run("--config", str(cfg))
    assert out.returncode == 2
    assert f"{cfg}:2:9: server.port must be a whole number, not text 'eighty'" in out.stderr


def test_a_missing_playlists_folder_is_said_at_the_config_line_that_names_it(tmp_path):
    """It was said as '<folder>:1:1: playlists folder not found', as if a file there were wrong."""
    (tmp_path / "config.yaml").write_text("server: {port: 1}\nplaylists: shows   # the DJs' folder\n")
    for command in ("check", "serve"):
        out = run(command, "--config", str(tmp_path / "config.yaml"))
        said = f"{tmp_path / 'config.yaml'}:2:12: playlists: folder {tmp_path / 'shows'} not found (make it, or name the folder"
        assert out.returncode == 2 and said in out.stderr, (command, out.stderr)


def test_missing_config_says_how_to_fix(tmp_path):
    out = run(cwd=tmp_path)
    assert out.returncode == 2 and "config.yaml:1:1: config file not found (pass --config PATH" in out.stderr


def test_check_the_default_station():
    out = run("check")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok: 2 mount(s), 3 playlist(s), 7 audio file(s), 5 block(s), 3 event(s); fallback 'music'")
    assert "note: " in out.stdout and "'drive' plays" in out.stdout  # overlaps resolved by priority are listed


def test_check_reports_playlist_problems(tmp_path):
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "a.yaml").write_text("playlists:\n  music:\n    files: [gone.mp3]\n    order: shufle\nfallback: music\n")
    (tmp_path / "config.yaml").write_text("playlists: playlists\n")
    out = run("check", "--config", str(tmp_path / "config.yaml"))
    assert out.returncode == 2
    assert (
        "a.yaml:4:12: playlists.music.order: must be one of shuffle, sequential, random, not 'shufle' (did you mean 'shuffle'?)"
        in out.stderr
    )


def test_check_notes_an_empty_value_in_the_config_and_in_a_programme_file(tmp_path):
    (tmp_path / "playlists").mkdir()
    tone = tmp_path / "playlists" / "tone.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(tone)], check=True)
    programme = "playlists:\n  music:\n    files: [tone.wav]\n    order:\nfallback: music\n"
    (tmp_path / "playlists" / "a.yaml").write_text(programme)
    (tmp_path / "config.yaml").write_text("server:\n  port:\n")
    out = run("check", "--config", str(tmp_path / "config.yaml"))
    assert out.returncode == 0, out.stderr
    assert "config.yaml:2:8: server.port is empty, so its default (8000) is used" in out.stdout
    assert "a.yaml:4:11: playlists.music.order is empty, so its default ('shuffle') is used" in out.stdout


def test_an_unusable_streamer_ffmpeg_is_said_and_passed_over(tmp_path, monkeypatch, caplog):
    real = ffmpeg_exe()
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\necho 'no encoders here'\n")
    no_mp3 = tmp_path / "no-mp3"
    no_mp3.write_text("#!/bin/sh\necho ' A..... aac  AAC (Advanced Audio Coding)'\n")
    no_mp3.chmod(0o755)
    assert unusable(real) == ""
    assert unusable(str(tmp_path / "nonexistent" / "ffmpeg")) == "missing"
    assert unusable("no-such-ffmpeg-here") == "missing (not on PATH)"
    assert unusable(str(plain)) == "not executable" and unusable(str(tmp_path)) == "not executable"
    assert unusable(str(no_mp3)).startswith("cannot encode MP3")
    for bad, why in (("/nonexistent/ffmpeg", "missing"), (str(plain), "not executable"), (str(no_mp3), "cannot encode MP3")):
        monkeypatch.setenv(ENV, bad)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="streamer.ffmpeg"):
            assert unusable(ffmpeg_exe.__wrapped__()) == ""  # the fallback, as before
        assert f"STREAMER_FFMPEG={bad} is not used: {why}" in caplog.text
    monkeypatch.setenv(ENV, real)
    caplog.clear()
    assert ffmpeg_exe.__wrapped__() == real and caplog.text == ""


def test_a_djs_decoder_gets_the_ffmpeg_that_starts_quickest(monkeypatch):
    """imageio-ffmpeg's static build (a dependency) unless STREAMER_FFMPEG names one for all."""
    import imageio_ffmpeg

    monkeypatch.delenv(ENV, raising=False)
    assert quick_start_ffmpeg.__wrapped__() == imageio_ffmpeg.get_ffmpeg_exe()
    monkeypatch.setenv(ENV, ffmpeg_exe())
    assert quick_start_ffmpeg.__wrapped__() == ffmpeg_exe()


def test_output_into_a_closed_pipe_ends_quietly():
    """`streamer check | head -1`: the reader is gone before the output is written."""
    for args in (("check",), ("schedule", "--hours", "48")):
        read, write = os.pipe()
        os.close(read)
        try:
            out = subprocess.run(
                [sys.executable, "-m", "streamer", *args], stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60
            )
        finally:
            os.close(write)
        assert out.returncode == 1 and out.stderr == "", (args, out.stderr)


def test_schedule_hours_out_of_range_are_refused_as_the_api_refuses_them():
    for bad in ("0", "49", "nan", "abc"):
        out = run("schedule", "--hours", bad)
        assert out.returncode == 2 and out.stdout == "", bad
        assert f"argument --hours: hours must be a number from 1 minute (0.017) to 48, not '{bad}'" in out.stderr
    assert run("schedule", "--hours", "0.5").returncode == 0


def test_check_reads_an_m3u_past_its_bom_and_names_a_missing_entry_at_its_line(tmp_path):
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "list.m3u").write_text("\ufeff#EXTM3U\nhttp://example.org/stream.mp3\ngone.mp3\n", encoding="utf-8")
    (tmp_path / "playlists" / "a.yaml").write_text("playlists:\n  music:\n    files: [list.m3u]\nfallback: music\n")
    (tmp_path / "config.yaml").write_text("playlists: playlists\n")
    out = run("check", "--config", str(tmp_path / "config.yaml"))
    assert out.returncode == 1 and "\ufeff" not in out.stderr and "http:/" not in out.stderr.replace("'http://", ""), out.stderr
    assert f"{tmp_path / 'playlists' / 'list.m3u'}:3: playlist 'music': 'gone.mp3' file not found\n" in out.stderr
    assert f"{tmp_path / 'playlists' / 'list.m3u'}:2: playlist 'music': 'http://example.org/stream.mp3' is a stream" in out.stderr


def test_decoders_started_at_need_use_the_quick_ffmpeg_and_early_ones_the_encoders():
    """The early decoder shares the encoders' libraries (memory); one started at need (a skip,
    a fallback's choice) starts quickest."""
    from streamer.audio.feeder import Feeder

    feeder = Feeder("/usr/bin/ffmpeg", 44100, 2, 0.5, [], quick="/static/ffmpeg")
    assert feeder._decoder.args[0] == "/static/ffmpeg" and feeder.early_decoder.args[0] == "/usr/bin/ffmpeg"
    assert Feeder("/usr/bin/ffmpeg", 44100, 2, 0.5, [])._decoder.args[0] == "/usr/bin/ffmpeg"
