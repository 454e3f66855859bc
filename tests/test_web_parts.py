"""The pages' pure parts: the timeline as data (and its cache), the listener sampler, the HTML
parts of the public page, the same-site rule for pages, and the assets the package ships."""

from __future__ import annotations

import datetime as dt
import html
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streamer.schedule.programme import load_programme
from streamer.schedule.scheduler import Scheduler
from streamer.schedule.sources import expand_sources
from streamer.schedule.timeline import TimelineCache, local_day, render_timeline, timeline, timeline_json
from streamer.stream.history import ListenerSampler
from streamer.web import assets, render
from streamer.web.auth import cross_site, top_level_page

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<img src=x onerror=alert(1)> \"double\" 'single' & &amp; שלום مرحبا \u202eevil 🎉📻"


@pytest.fixture(scope="module")
def scheduler() -> Scheduler:
    programme = load_programme(ROOT / "playlists")
    return Scheduler(programme, {name: expand_sources(spec)[0] for name, spec in programme.playlists.items()})


def test_the_timeline_as_data_says_what_streamer_schedule_prints(scheduler):
    start = dt.datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("Africa/Harare")).timestamp()
    doc = timeline_json(scheduler, start, 4)
    assert doc["lines"] == render_timeline(scheduler, start, 4)
    assert doc["lines"][1] == "15:00  block daytime (priority 0): music; ♪ jingle from ids every 15 min"
    first, drive = doc["entries"][0], next(x for x in doc["entries"] if x["name"] == "drive")
    assert first["kind"] == "block" and first["name"] == "daytime" and first["clock"] == "15:00" and first["priority"] == 0
    assert (
        drive["local"] == "2026-11-27T16:00:00+02:00"
        and drive["crossfade"] == 2
        and drive["jingles"] == {"play": "ids", "every": "4 songs"}
    )
    news = [x for x in doc["entries"] if x["name"] == "news"]
    assert [x["clock"] for x in news] == ["15:00", "16:00", "17:00", "18:00"] and all(x["bulletin"] and x["start"] == "hard" for x in news)
    assert next(x for x in doc["entries"] if x["name"] == "half-past-id")["wait"] == 20


def test_the_timeline_cache_answers_exactly_what_a_fresh_walk_does(scheduler):
    cache, rng = TimelineCache(), random.Random(7)
    base = dt.datetime(2026, 11, 27, 0, 0, 30, tzinfo=ZoneInfo("Africa/Harare")).timestamp()
    for _ in range(10):
        start, hours = base + rng.uniform(0, 6 * 86400), rng.choice([0.5, 1, 5, 24, 25, 48])
        assert cache.entries(scheduler, start, hours) == timeline(scheduler, start, hours), (start, hours)
    assert len(cache._walks) <= cache.KEEP
    # later requests inside a walk are sliced from it, not walked again, and answer the same
    first = base + 3600
    cache.entries(scheduler, first, 24)
    walks = dict(cache._walks)
    for k in range(1, 25):
        start = first + k * 617.3
        assert cache.entries(scheduler, start, 24) == timeline(scheduler, start, 24), start
    assert cache._walks == walks


def test_a_local_day_is_23_or_25_hours_across_dst(scheduler):
    london = ZoneInfo("Europe/London")
    s = Scheduler(scheduler.programme, {})
    s.tz = london
    spring = dt.datetime(2026, 3, 29, 12, tzinfo=london).timestamp()
    autumn = dt.datetime(2026, 10, 25, 12, tzinfo=london).timestamp()
    assert local_day(s, spring) == (dt.datetime(2026, 3, 29, tzinfo=london).timestamp(), 23.0)
    assert local_day(s, autumn)[1] == 25.0
    assert local_day(s, autumn + 86400)[1] == 24.0


def test_the_sampler_keeps_24_hours_and_merges_buckets_by_their_peak():
    counts = {"/main": 0, "/low": 0}
    sampler = ListenerSampler(lambda: dict(counts), interval=10, span=3600)
    for i in range(500):
        counts["/main"], counts["/low"] = i % 7, 1
        sampler.sample(1000.0 + 10 * i)
    assert len(sampler.samples) == 360  # an hour of 10 s samples, the oldest dropped
    doc = sampler.history(since=0, step=60)
    assert doc["source"] == "memory" and doc["mounts"] == ["/low", "/main"] and doc["step"] == 60
    assert max(p[1] for p in doc["points"]) == 7 and max(p[3] for p in doc["points"]) == 6 and all(p[2] == 1 for p in doc["points"])
    assert len(doc["points"]) == pytest.approx(3600 / 60, abs=1)
    assert sampler.history(since=1000.0 + 10 * 495)["points"][-1][0] == 1000.0 + 10 * 499
    assert len(ListenerSampler(lambda: {}, 1, 86400).history(0)["points"]) == 0


def test_a_crowd_between_two_samples_is_in_the_next_one():
    """Each sample is the most listeners since the one before: per mount, and for the station
    the most at once (not the mounts' peaks added up, which came at other moments)."""
    counts = {"/main": 0, "/low": 0}
    sampler = ListenerSampler(lambda: dict(counts), interval=10, span=3600)
    sampler.sample(1000.0)
    for n in (1, 2, 3, 2, 1, 0):  # three on /main for a moment, gone before the next sample
        sampler.changed("/main", n)
    sampler.changed("/low", 2)  # then two on /low
    counts["/low"] = 2
    sampler.sample(1010.0)
    sampler.sample(1020.0)
    points = sampler.history(since=0)["points"]  # [time, station, /low, /main]
    assert points == [[1000.0, 0, 0, 0], [1010.0, 3, 2, 3], [1020.0, 2, 2, 0]]


def test_the_graph_starts_with_the_last_runs_minutes_after_a_restart():
    """The graph was empty after a restart: the minutes the history database kept are its
    start, a minute with no row is 0, and the station's peak (which counts HLS players, not on
    the graph) is held to the graph's mounts' peaks added up."""
    sampler = ListenerSampler(lambda: {"/main": 4, "/low": 0}, interval=10, span=86400)
    rows = [(100, "/main", 3), (100, "", 5), (102, "/main", 1), (102, "/low", 2), (102, "", 2), (102, "/hls/aac48", 9)]
    sampler.restore(rows, ["/low", "/main"], now=103 * 60 + 25)
    sampler.sample(103 * 60 + 25)
    doc = sampler.history(since=0)
    assert doc["source"] == "history, then memory" and doc["restored_until"] == 103 * 60 + 25 and doc["mounts"] == ["/low", "/main"]
    # [time, station, /low, /main]: minute 101 had nobody, minute 103 had no row yet, then the first sample
    assert doc["points"] == [[6000.0, 3, 0, 3], [6060.0, 0, 0, 0], [6120.0, 2, 2, 1], [6180.0, 0, 0, 0], [6205.0, 4, 0, 4]]
    fresh = ListenerSampler(lambda: {}, 10, 3600)
    fresh.restore([], ["/main"], now=6000.0)
    assert fresh.history(0) == {"source": "memory", "restored_until": None, "interval": 10, "step": 10, "mounts": [], "points": []}


def test_hostile_text_in_the_public_page_parts_is_escaped():
    headline = {"id": 'x"><b>', "title": HOSTILE, "summary": HOSTILE, "source": HOSTILE}
    parts = [
        render.headlines_html([headline], {"headlines": [HOSTILE]}, "News: " + HOSTILE),
        render.history_html([{"title": HOSTILE, "start": "2026-11-24T18:00:00Z"}], ZoneInfo("Africa/Harare")),
        *render.now_parts({"now_playing": {"title": HOSTILE, "song": {"artist": HOSTILE, "title": HOSTILE}, "elapsed": 3, "duration": 9},
                           "next": {"at": "2026-11-24T21:00:00+02:00", "name": HOSTILE},
                           "playing_next": {"title": HOSTILE}}).values(),
    ]  # fmt: skip
    for part in parts:
        assert "<img" not in part and "<b>" not in part and '"double"' not in part
    assert html.escape(HOSTILE) in parts[0] and 'aria-current="true"' in parts[0]
    assert '<time datetime="2026-11-24T18:00:00Z">20:00</time>' in parts[1]


def test_next_up_is_the_next_song_then_the_next_event():
    song, event = {"title": "Band - Song"}, {"at": "2026-11-24T21:00:00+02:00", "name": "news"}
    assert render.next_up({"playing_next": song, "next": event}) == "Band - Song · news at 21:00"
    assert render.next_up({"playing_next": None, "next": event}) == "news at 21:00"
    assert render.next_up({"playing_next": song, "next": None}) == "Band - Song"
    assert render.next_up({"playing_next": None, "next": None}) == "the schedule plays on"


def test_hourly_events_are_said_once_for_the_public_page(scheduler):
    start, hours = local_day(scheduler, dt.datetime(2026, 11, 27, 12, tzinfo=ZoneInfo("Africa/Harare")).timestamp())
    day, blocks, events = render.schedule_html(timeline_json(scheduler, start, hours), start + 15.5 * 3600)
    assert day == "Friday 27 November 2026 (Africa/Harare)"
    assert events == (
        "<li>top-of-the-hour: every hour at :00</li><li>news (news bulletin): every hour at :00</li>"
        "<li>half-past-id: every hour at :30</li>"
    )
    assert '<li data-time="' in blocks and blocks.count("aria-current") == 1
    assert 'aria-current="true"><time>10:00</time> <span class="block">daytime</span>' in blocks


def test_a_page_may_be_opened_from_another_site_but_nothing_else_may():
    navigate = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert cross_site("GET", navigate, ("radio:8000",)) is not None  # refused as an API call …
    assert top_level_page("GET", navigate)  # … allowed for the dashboard page itself
    assert not top_level_page("GET", {**navigate, "sec-fetch-dest": "iframe"})
    assert not top_level_page("POST", navigate)
    assert not top_level_page("GET", {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"})


@pytest.mark.interop  # pip builds the wheel with setuptools from the package index
def test_the_package_ships_its_pages_and_assets(tmp_path):
    names = set(assets.assets())
    assert {"player.js", "admin.js", "station.css", "icon.svg"} <= names
    for name in ("index.html", "embed.html", "admin.html"):
        assert "$" in assets.template(name).template
    source = tmp_path / "src"  # a copy, so the build leaves nothing in the clone
    shutil.copytree(ROOT / "streamer", source / "streamer", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(source)], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("streamer-*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for name in names:
        assert f"streamer/web/static/{name}" in shipped
    assert {"streamer/web/templates/index.html", "streamer/web/templates/embed.html", "streamer/web/templates/admin.html"} <= shipped


def test_the_page_lists_a_player_file_for_each_mount_and_the_hls_playlist():
    mounts = [{"mount": "/main", "format": "audio/mpeg", "bitrate": 128}, {"mount": "/opus", "format": "audio/ogg", "bitrate": None}]
    assert render.mount_links(mounts) == '<a href="/main.m3u">main</a> (MP3, 128 kbit/s) · <a href="/opus.m3u">opus</a> (Ogg)'
    with_hls = render.mount_links(mounts, {"url": "http://radio/hls/live.m3u8"})
    assert with_hls.endswith(' · <a href="/hls/live.m3u8">HLS</a> (phones, Safari, TVs)')
