"""The pure scheduler over simulated days and weeks: time zones and DST, midnight, overlaps,
jingles, no-repeat windows, events. The clock is a number we choose."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streamer.schedule.model import Fades
from streamer.schedule.programme import Programme, parse_programme_file
from streamer.schedule.scheduler import Choice, Played, Scheduler
from streamer.schedule.timeline import overlaps, render_timeline, timeline_hours
from streamer.schedule.times import wall_times
from streamer.yamldoc import Problem

LONDON = ZoneInfo("Europe/London")


def programme(yaml: str) -> Programme:
    p = Programme()
    problems: list[Problem] = []
    parse_programme_file(yaml, Path("/s/station.yaml"), p, problems)
    assert problems == []
    return p


def files(names: dict[str, int]) -> dict[str, list[Path]]:
    return {name: [Path(f"/m/{name}/{i}.mp3") for i in range(n)] for name, n in names.items()}


def ts(tz, *args) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def test_block_follows_local_time_across_dst_changes():
    p = programme(
        "timezone: Europe/London\nplaylists: {music: [a/], talk: [b/]}\nfallback: music\n"
        "blocks:\n  breakfast: {days: daily, start: '06:00', end: '10:00', play: talk}\n"
    )
    s = Scheduler(p, files({"music": 3, "talk": 3}))
    # Two weeks around each change, minute by minute, in real (UTC) time.
    for start in (dt.datetime(2026, 3, 22, tzinfo=dt.UTC), dt.datetime(2026, 10, 18, tzinfo=dt.UTC)):
        for minute in range(14 * 24 * 60):
            t = (start + dt.timedelta(minutes=minute)).timestamp()
            local = dt.datetime.fromtimestamp(t, LONDON)
            expected = "breakfast" if 6 <= local.hour < 10 else None
            block = s.block_at(t)
            assert (block.name if block else None) == expected, local
    # On the day clocks go forward, breakfast starts at 05:00 UTC; the day before at 06:00 UTC.
    assert s.block_at(ts(dt.UTC, 2026, 3, 29, 5, 0)).name == "breakfast"
    assert s.block_at(ts(dt.UTC, 2026, 3, 28, 5, 59)) is None


def test_blocks_crossing_midnight_belong_to_the_day_they_start():
    p = programme(
        "playlists: {music: [a/], late: [b/]}\nfallback: music\n"
        "blocks:\n  friday-late: {days: fri, start: '22:00', end: '02:00', play: late}\n"
    )
    s = Scheduler(p, files({"music": 1, "late": 1}))
    utc = dt.UTC
    assert s.block_at(ts(utc, 2026, 11, 27, 23, 0)).name == "friday-late"  # Friday 23:00
    assert s.block_at(ts(utc, 2026, 11, 28, 1, 59)).name == "friday-late"  # Saturday 01:59
    assert s.block_at(ts(utc, 2026, 11, 28, 2, 0)) is None
    assert s.block_at(ts(utc, 2026, 11, 28, 23, 0)) is None  # Saturday night is not Friday's
    assert s.block_at(ts(utc, 2026, 11, 27, 1, 0)) is None  # Friday 01:00 belongs to Thursday


def test_overlaps_resolved_by_priority_and_reported():
    p = programme(
        "playlists: {a: [a/], b: [b/], c: [c/]}\nfallback: a\n"
        "blocks:\n"
        "  day: {start: '10:00', end: '18:00', play: a}\n"
        "  drive: {days: weekdays, start: '16:00', end: '19:00', priority: 5, play: b}\n"
        "  clash: {days: sun, start: '12:00', end: '13:00', play: c}\n"
    )
    s = Scheduler(p, files({"a": 1, "b": 1, "c": 1}))
    assert s.block_at(ts(dt.UTC, 2026, 11, 23, 17, 0)).name == "drive"  # Monday
    assert s.block_at(ts(dt.UTC, 2026, 11, 29, 17, 0)).name == "day"  # Sunday: no drive
    assert s.block_at(ts(dt.UTC, 2026, 11, 29, 12, 30)).name == "day"  # tie: defined first wins
    found = {(o.a.name, o.b.name): o for o in overlaps(p)}
    assert set(found) == {("day", "drive"), ("day", "clash")}
    assert not found[("day", "drive")].ambiguous and found[("day", "clash")].ambiguous
    assert "same priority" in found[("day", "clash")].describe()


def test_date_ranges():
    p = programme(
        "playlists: {a: [a/], xmas: [x/]}\nfallback: a\n"
        "blocks:\n  carols: {start: '00:00', end: '00:00', play: xmas, dates: {from: 2026-12-20, until: 2026-12-26}}\n"
    )
    s = Scheduler(p, files({"a": 1, "xmas": 1}))
    assert s.block_at(ts(dt.UTC, 2026, 12, 19, 23, 59)) is None
    assert s.block_at(ts(dt.UTC, 2026, 12, 20, 0, 0)).name == "carols"
    assert s.block_at(ts(dt.UTC, 2026, 12, 26, 23, 59)).name == "carols"
    assert s.block_at(ts(dt.UTC, 2026, 12, 27, 0, 0)) is None


def simulate(s: Scheduler, start: float, hours: float, durations, events: bool = False) -> list[Played]:
    """Play the schedule out: each choice lasts a duration drawn from `durations`."""
    history: list[Played] = []
    t = start
    while t < start + hours * 3600:
        c = s.next_choice(t, history)
        history.append(Played(t, c.path, "", c.playlist, c.kind, c.block.name if c.block else None))
        t += durations()
    return history


@pytest.mark.parametrize("every", [1, 3, 4, 7])
def test_jingle_every_n_songs_holds_exactly_over_a_day(every):
    p = programme(
        f"playlists: {{music: [m/], ids: [i/]}}\nfallback: music\n"
        f"blocks:\n  all-day: {{start: '00:00', end: '00:00', play: music, jingles: {{play: ids, every: {every} songs}}}}\n"
    )
    s = Scheduler(p, files({"music": 20, "ids": 3}), rng=random.Random(every))
    rng = random.Random(7)
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 24, lambda: rng.choice([1, 45, 180, 240, 1800]))
    kinds = "".join("J" if h.kind == "jingle" else "s" for h in history)
    runs = kinds.split("J")
    assert kinds.count("J") > 20
    assert runs[0] == "s" * every and all(r == "s" * every for r in runs[1:-1])
    assert len(runs[-1]) <= every


def test_jingle_every_n_minutes():
    p = programme(
        "playlists: {music: [m/], ids: [i/]}\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: music, jingles: {play: ids, every: 15 min}}\n"
    )
    s = Scheduler(p, files({"music": 20, "ids": 2}))
    rng = random.Random(3)
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 24, lambda: rng.uniform(60, 300))
    jingle_times = [h.time for h in history if h.kind == "jingle"]
    gaps = [b - a for a, b in itertools.pairwise(jingle_times)]
    assert len(jingle_times) > 60
    assert all(15 * 60 <= g < 15 * 60 + 300 + 5 for g in gaps)  # due after 15 min, at the next song boundary


def test_no_repeat_windows_for_tracks_and_artists():
    p = programme("playlists:\n  music: {files: [m/], order: random, no_repeat: {track: 20, artist: 9}}\nfallback: music\n")
    music = files({"music": 12})
    artists = {path: f"artist {i % 4}" for i, path in enumerate(music["music"])}
    s = Scheduler(p, music, artist_of=lambda path: artists[path], rng=random.Random(5))
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 24, lambda: 180)
    for i, h in enumerate(history):
        for earlier in history[max(0, i - 10) : i]:
            gap = h.time - earlier.time
            if earlier.path == h.path:
                assert gap >= 20 * 60
            if artists[earlier.path] == artists[h.path]:
                assert gap >= 9 * 60


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_repeat_holds_a_shuffle_round_together(seed):
    """A shuffled playlist with an artist window, under weights: when the next file of the round
    is held back by the window, the next one of the round that is not takes its turn, and the one
    held back comes later in the round; so every file airs as often as every other (a random
    stand-in left some files out for rounds on end and aired others twice a round)."""
    p = programme(
        "playlists:\n  music: {files: [m/], order: shuffle, no_repeat: {artist: 5}}\n  talk: [t/]\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: {music: 3, talk: 1}}\n"
    )
    music = files({"music": 12, "talk": 3})
    artists = {path: f"artist {i % 4}" for i, path in enumerate(music["music"])}
    s = Scheduler(p, music, artist_of=lambda path: artists.get(path, ""), rng=random.Random(seed))
    history = [h for h in simulate(s, ts(dt.UTC, 2026, 11, 24), 24, lambda: 180) if h.playlist == "music"]
    counts = Counter(h.path for h in history)
    assert len(history) == 360 and set(counts) == set(music["music"])
    assert set(counts.values()) == {30}, sorted(counts.values())  # 30 whole rounds
    for earlier, later in itertools.pairwise(history):  # the window still holds: no artist twice running
        assert artists[earlier.path] != artists[later.path] or later.time - earlier.time >= 5 * 60
    broken = set(music["music"][:2])  # two files that will not decode: the rounds go on without them
    s = Scheduler(p, music, artist_of=lambda path: artists.get(path, ""), rng=random.Random(seed), playable=lambda f: f not in broken)
    counts = Counter(h.path for h in simulate(s, ts(dt.UTC, 2026, 11, 24), 6, lambda: 180) if h.playlist == "music")
    assert set(counts) == set(music["music"]) - broken and max(counts.values()) - min(counts.values()) <= 1, counts


@pytest.mark.parametrize("order", ["sequential", "shuffle"])
def test_a_file_held_back_by_no_repeat_airs_when_the_window_lets_it(order):
    """Eight files in artist pairs, a 4-minute artist window, 3-minute songs: the file after each
    one is held back, the next allowed airs in its place, and the one held back airs next (a
    list that moved on past it never aired 1, 3, 5 or 7 again)."""
    p = programme(f"playlists:\n  music: {{files: [m/], order: {order}, no_repeat: {{artist: 4}}}}\nfallback: music\n")
    music = files({"music": 8})
    artists = {path: f"artist {i // 2}" for i, path in enumerate(music["music"])}
    s = Scheduler(p, music, artist_of=lambda path: artists[path], rng=random.Random(3))
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 6, lambda: 180)
    assert set(Counter(h.path for h in history).values()) == {15}  # 120 songs, 8 files
    assert all(artists[a.path] != artists[b.path] for a, b in itertools.pairwise(history))
    if order == "sequential":
        assert [h.path.stem for h in history[:8]] == ["0", "2", "1", "3", "4", "6", "5", "7"]


@pytest.mark.parametrize("order", ["sequential", "shuffle"])
def test_when_the_window_holds_back_every_file_the_one_aired_longest_ago_plays(order):
    """One artist, a window longer than a song: every file is held back every time. The one
    that aired longest ago plays (it was always the first file of the list)."""
    p = programme(f"playlists:\n  music: {{files: [m/], order: {order}, no_repeat: {{artist: 10}}}}\nfallback: music\n")
    s = Scheduler(p, files({"music": 6}), artist_of=lambda path: "One", rng=random.Random(3))
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 6, lambda: 180)
    assert set(Counter(h.path for h in history).values()) == {20}


def test_weights_are_exact_and_empty_playlists_fall_back():
    p = programme(
        "playlists: {music: [m/], talk: [t/], empty: [e/]}\nfallback: music\n"
        "blocks:\n  mix: {start: '00:00', end: '12:00', play: {music: 3, talk: 1}}\n"
        "  broken: {start: '12:00', end: '00:00', play: empty}\n"
    )
    s = Scheduler(p, files({"music": 5, "talk": 5, "empty": 0}))
    morning = [s.next_choice(ts(dt.UTC, 2026, 11, 24, 9), []).playlist for _ in range(400)]
    assert morning.count("music") == 300 and morning.count("talk") == 100
    assert morning[:8] == ["music", "music", "talk", "music"] * 2  # spread out, not bunched
    evening = s.next_choice(ts(dt.UTC, 2026, 11, 24, 15), [])
    assert evening.playlist == "music" and evening.path is not None
    nothing = Scheduler(p, files({"music": 0, "talk": 0, "empty": 0})).next_choice(ts(dt.UTC, 2026, 11, 24, 15), [])
    assert nothing.path is None  # the feeder plays valid silence


def test_hourly_events_happen_every_real_hour_across_dst():
    p = programme("timezone: Europe/London\nplaylists: {ids: [i/]}\nfallback: ids\nevents:\n  toh: {at: ':00', play: ids, start: hard}\n")
    s = Scheduler(p, files({"ids": 1}))
    for day, hours in ((dt.date(2026, 10, 25), 25), (dt.date(2026, 3, 29), 23), (dt.date(2026, 11, 24), 24)):
        start = dt.datetime.combine(day, dt.time(0), LONDON).timestamp() - 1
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), LONDON).timestamp() - 1
        times = [o.time for o in s.events_between(start, end)]
        assert len(times) == hours, day
        assert all(b - a == 3600 for a, b in itertools.pairwise(times))


def test_daily_event_in_the_dst_gap_or_overlap_happens_once():
    p = programme(
        "timezone: Europe/London\nplaylists: {news: [n/]}\nfallback: news\nevents:\n  news: {at: '01:30', play: news, start: hard}\n"
    )
    s = Scheduler(p, files({"news": 1}))
    spring = s.next_event(ts(dt.UTC, 2026, 3, 28, 12))
    assert spring.time == ts(dt.UTC, 2026, 3, 29, 1, 0)  # 01:30 does not exist: at the change
    autumn = s.next_event(ts(dt.UTC, 2026, 10, 24, 12))
    assert autumn.time == ts(dt.UTC, 2026, 10, 25, 0, 30)  # the first 01:30 (BST)
    assert s.next_event(autumn.time).time == ts(dt.UTC, 2026, 10, 26, 1, 30)  # not the second one


def test_wall_times_plain():
    assert wall_times(dt.datetime(2026, 6, 1, 12), LONDON, both_folds=True) == (ts(dt.UTC, 2026, 6, 1, 11),)


def test_events_with_days_and_modes():
    p = programme(
        "timezone: Africa/Harare\nplaylists: {news: [n/], ids: [i/]}\nfallback: ids\n"
        "events:\n  news: {at: '07:00', days: weekdays, play: news, start: wait 30}\n  id: {at: ':30:15', play: ids}\n"
    )
    harare = ZoneInfo("Africa/Harare")
    s = Scheduler(p, files({"news": 1, "ids": 1}))
    e = p.events
    assert (e[0].mode, e[0].wait, e[1].mode, e[1].minute, e[1].second) == ("wait", 30.0, "soft", 30, 15)
    friday = ts(harare, 2026, 11, 27, 6, 59)
    occurrences = [o for o in s.events_between(friday, friday + 4 * 86400) if o.event.name == "news"]
    assert [dt.datetime.fromtimestamp(o.time, harare).strftime("%a %H:%M") for o in occurrences] == ["Fri 07:00", "Mon 07:00"]
    first_id = s.next_event(ts(harare, 2026, 11, 27, 8, 0))
    assert dt.datetime.fromtimestamp(first_id.time, harare).strftime("%H:%M:%S") == "08:30:15"


def test_timeline_marks_blocks_jingles_and_events():
    p = programme(
        "timezone: Africa/Harare\nplaylists: {music: [m/], ids: [i/]}\nfallback: music\n"
        "blocks:\n  breakfast: {days: weekdays, start: '06:00', end: '10:00', play: music, jingles: {play: ids, every: 3 songs}}\n"
        "events:\n  toh: {at: ':00', play: ids, start: hard}\n"
    )
    s = Scheduler(p, files({"music": 2, "ids": 1}))
    lines = render_timeline(s, ts(ZoneInfo("Africa/Harare"), 2026, 11, 27, 5, 30), 5)
    assert lines[0] == "Friday 27 November 2026 (Africa/Harare)"
    assert lines[1] == "05:30  no block: fallback playlist music"
    assert "06:00  block breakfast (priority 0): music; \u266a jingle from ids every 3 songs" in lines
    assert sum("\u25b6 event toh" in line for line in lines) == 5
    assert lines[-2].startswith("10:00") and "fallback" in lines[-2]


def test_problems_name_file_line_and_field():
    p = Programme()
    problems: list[Problem] = []
    parse_programme_file(
        "timezone: Mars/Olympus\nplaylists: {a: [x/]}\nblocks:\n  b: {start: '25:00', end: '10:00', days: funday, play: a, priorty: 3}\n"
        "events:\n  e: {at: 'noon', play: a, start: later}\n",
        Path("/s/p.yaml"),
        p,
        problems,
    )
    text = [str(x) for x in problems]
    assert text[0].startswith("/s/p.yaml:1:11: timezone 'Mars/Olympus' is not an IANA time zone name")
    assert any(t.startswith("/s/p.yaml:4:") and "days: unknown day 'funday'" in t for t in text)
    assert any("blocks.b.start must be a clock time" in t for t in text)
    assert any("unknown key 'blocks.b.priorty' (did you mean 'priority'?)" in t for t in text)
    assert any(t.startswith("/s/p.yaml:6:") and "events.e.at must be" in t for t in text)
    assert any("events.e.start must be hard, soft or 'wait N'" in t for t in text)


@pytest.mark.parametrize("order", ["shuffle", "random", "sequential"])
def test_preview_shows_the_next_choice_and_moves_nothing(order):
    """'Next up' is the scheduler's choice made ahead without committing it: over a day of
    weights, jingles every 2 songs, no-repeat windows (random fallbacks) and an hourly event,
    every preview equals the choice then made at that time, and the day played with previews
    is the day played without them."""
    yaml = (
        f"playlists:\n  music: {{files: [m/], order: {order}, no_repeat: {{track: 10, artist: 5}}}}\n"
        f"  talk: {{files: [t/], order: {order}}}\n  ids: {{files: [i/], order: {order}}}\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: {music: 3, talk: 1}, jingles: {play: ids, every: 2 songs}}\n"
        "events:\n  top: {at: ':00', play: ids, start: soft}\n"
    )
    music = files({"music": 9, "talk": 4, "ids": 3})
    artists = {path: f"artist {i % 3}" for i, path in enumerate(music["music"])}

    def day(previews: bool) -> list[Played]:
        s = Scheduler(programme(yaml), music, artist_of=lambda path: artists.get(path, ""), rng=random.Random(11))
        history: list[Played] = []
        t, durations = ts(dt.UTC, 2026, 11, 24), random.Random(2)
        while t < ts(dt.UTC, 2026, 11, 25):
            due = s.next_event(t - 200)
            event = due.event if due is not None and due.time <= t else None
            ahead = s.preview(t, history, event) if previews else None
            c = s.event_choice(event, t, history) if event else s.next_choice(t, history)
            if ahead is not None:
                assert (ahead.path, ahead.playlist, ahead.kind) == (c.path, c.playlist, c.kind)
            history.append(Played(t, c.path, artists.get(c.path, ""), c.playlist, c.kind, c.block.name if c.block else None))
            t += durations.choice([20, 150, 200])
        return history

    with_previews = day(True)
    assert len(with_previews) > 400 and {h.kind for h in with_previews} == {"song", "jingle", "event"}
    assert with_previews == day(False)


def test_handover_time_believes_only_sane_lengths():
    from streamer.audio.upcoming import handover_time

    assert handover_time(100.0, 180.0, 2.0, 150.0) == 278.0
    assert handover_time(100.0, 180.0, 0.0, 400.0) == 400.0  # overran: now
    for bad in (None, float("inf"), float("nan"), 1e12):
        assert handover_time(100.0, bad, 0.0, 150.0) == 150.0


def test_the_aired_length_is_cue_in_to_cue_out_not_the_file():
    """/api/nowplaying's duration and remaining counted the whole file: a file with 3 s of silence
    before and 5 s after its 10 s of sound showed 18.1 s and ran past its end (found by QA)."""
    from pathlib import Path

    from streamer.audio.leveling import Level
    from streamer.audio.track import aired
    from streamer.library.tags import TrackInfo

    info = TrackInfo(Path("pad.mp3"), "A", "Pad", 18.05)
    assert aired(info, Level(start=3.0, end=13.0)).duration == 10.0
    assert aired(info, Level(start=1.5)).duration == 16.55  # to its end
    assert aired(info, Level()).duration == 18.05
    assert aired(TrackInfo(Path("x.mp3"), "", "", None), Level(start=1.0)).duration is None


def test_a_file_that_ends_well_short_of_its_length_is_noticed():
    """QA: a file overwritten in place while it aired ended early with no word in the log."""
    from streamer.audio.track import ended_short

    assert ended_short(180.0, 61.0) and ended_short(10.0, 7.9)
    assert not ended_short(180.0, 179.0) and not ended_short(180.0, 172.0)  # within 5 %: a header's estimate
    assert not ended_short(10.0, 8.5) and not ended_short(None, 1.0)  # within 2 s; a length not known


def test_the_last_preview_is_kept_while_made_from_the_same_objects():
    from streamer.audio.upcoming import LastPreview

    made: list[int] = []

    def make():
        made.append(1)
        return (100.0, "a choice")

    last, scheduler, playing = LastPreview(), object(), object()
    for now in (10.0, 50.0, 99.0):
        assert last.get((scheduler, playing, None), now, make) == (100.0, "a choice")
    assert len(made) == 1
    last.get((scheduler, object(), None), 99.0, make)  # another item on air
    last.get((object(), playing, None), 99.0, make)  # a reloaded programme
    last.get((object(), playing, None), 101.0, make)  # its time has passed (the item overran)
    assert len(made) == 4


def test_nothing_playable_in_the_block_or_the_fallback_is_never_dead_air_while_anything_plays():
    p = programme(
        "playlists: {music: [m/], talk: [t/], ids: [i/]}\nfallback: music\n"
        "blocks:\n  day: {start: '06:00', end: '18:00', play: music}\n  night: {start: '18:00', end: '06:00', play: talk}\n"
    )
    noon = ts(dt.UTC, 2026, 11, 24, 12)
    other = Scheduler(p, files({"music": 0, "talk": 2, "ids": 1})).next_choice(noon, [])
    assert (other.playlist, other.stand_in) == ("talk", "playlist 'talk'") and other.path and other.path.parent == Path("/m/talk")
    aired = [Played(noon - 300 + i * 60, Path(f"/old/{n}.mp3"), "", "music", "song", "day") for i, n in enumerate("abcab")]
    aired.insert(2, Played(noon - 200, Path("/m/ids/0.mp3"), "", "ids", "jingle", "day"))
    replays = Scheduler(p, files({"music": 0, "talk": 0, "ids": 1}))
    picks = [replays.next_choice(noon, aired) for _ in range(2)]
    assert [(c.path, c.playlist, c.stand_in) for c in picks] == [(Path("/old/c.mp3"), "music", "songs that aired lately")] * 2
    aired.append(Played(noon, Path("/old/c.mp3"), "", "music", "song", "day"))  # then the longest-ago of the rest
    assert replays.next_choice(noon, aired).path == Path("/old/a.mp3")
    unplayable = Scheduler(p, files({"music": 0, "talk": 0, "ids": 1}), playable=lambda f: f.parts[1] != "old")
    assert unplayable.next_choice(noon, aired).stand_in == "playlist 'ids'"  # jingles before silence
    nothing = Scheduler(p, files({"music": 0, "talk": 0, "ids": 0})).next_choice(noon, aired[:0])
    assert nothing.path is None and nothing.stand_in == ""


def test_timeline_hours_are_a_minute_to_two_days_said_readably():
    assert timeline_hours("0.5") == 0.5 and timeline_hours("48") == 48.0 and timeline_hours(str(1 / 60)) == 1 / 60
    for bad in ("0", "0.01", "48.5", "-1", "nan", "inf", "abc", ""):
        with pytest.raises(ValueError) as caught:
            timeline_hours(bad)
        assert str(caught.value) == f"hours must be a number from 1 minute (0.017) to 48, not {bad!r}"


def test_a_choice_says_where_it_came_from_for_the_log():
    p = programme(
        "playlists: {music: [m/], news: [n/]}\nfallback: music\nblocks:\n  day: {start: '00:00', end: '24:00', play: music}\n"
        "events:\n  toh: {at: ':00', play: news}\n"
    )
    s = Scheduler(p, files({"music": 1, "news": 1}))
    t = ts(dt.UTC, 2026, 11, 24, 12)
    assert s.next_choice(t, []).origin() == "playlist 'music', block 'day'"
    assert s.event_choice(p.events[0], t, []).origin() == "playlist 'news', event 'toh'"


def test_a_stand_in_is_said_once_per_programme_and_again_when_it_comes_to_silence():
    from streamer.audio.onair import OnAir

    p = programme("playlists: {music: [m/], ids: [i/]}\nfallback: music\nblocks:\n  day: {start: '00:00', end: '24:00', play: music}\n")
    noon, onair = ts(dt.UTC, 2026, 11, 24, 12), OnAir()
    s = Scheduler(p, files({"music": 0, "ids": 2}))
    for _ in range(3):
        onair.note_stand_in(s.next_choice(noon, []), s)
    silent = Scheduler(p, files({"music": 0, "ids": 0}))
    onair.note_stand_in(silent.next_choice(noon, []), silent)
    assert [pr.reason for pr in onair.problems] == [
        "nothing playable in block 'day' (music) or the fallback 'music'; playing playlist 'ids' instead",
        "nothing playable in block 'day' (music) or the fallback 'music'; nothing else either: silence until a playlist is fixed",
    ]
    assert onair.silent


def test_a_hard_event_with_nothing_to_play_does_not_cut_the_song_on_air():
    from streamer.audio.cues import Cues

    p = programme("playlists: {music: [m/], news: [n/]}\nfallback: music\nevents:\n  toh: {at: ':00', play: news, start: hard}\n")
    noon = ts(dt.UTC, 2026, 11, 24, 12)
    for news_files, cut in ((1, 3600 * 100), (0, None)):
        cues = Cues(lambda wall: int((wall - noon) * 100))  # 100 samples a second from noon
        cues.follow(Scheduler(p, files({"music": 3, "news": news_files})), noon + 1)
        assert cues.cut_at == cut and cues.next is not None  # the event still falls due (and is said)


def test_now_playing_times_are_to_the_millisecond():
    from streamer.wire.text import iso_utc

    assert iso_utc(1795699387.95) == "2026-11-26T13:23:07.950Z"  # was ...:07Z: ends a second early
    assert iso_utc(1795699387.9996) == "2026-11-26T13:23:08.000Z"


def test_an_event_on_a_second_is_shown_with_its_seconds():
    """`streamer schedule` printed 15:18 for an event at 15:18:20 (found by QA)."""
    p = programme(
        "timezone: Africa/Harare\nplaylists: {music: [m/], ids: [i/]}\nfallback: music\n"
        "events:\n  promo: {at: '15:18:20', play: ids}\n  toh: {at: ':00', play: ids}\n  late: {at: ':45:05', play: ids}\n"
    )
    lines = render_timeline(Scheduler(p, files({"music": 1, "ids": 1})), ts(ZoneInfo("Africa/Harare"), 2026, 11, 27, 15, 0, 7), 1)
    assert lines[1] == "15:00  no block: fallback playlist music"  # where the timeline starts: no seconds there
    assert [line.split("  ")[0] for line in lines if "\u25b6" in line] == ["15:18:20", "15:45:05", "16:00"]


def test_now_playing_names_what_airs_not_what_is_announced_ahead():
    """QA: /api/nowplaying named the next song 0.13-0.5 s before the mounts' titles changed: the
    feeder announces it a lookahead before it airs. Until its title reaches listeners, the one
    before is named."""
    from streamer.audio.onair import OnAir
    from streamer.library.tags import TrackInfo

    onair = OnAir()
    choice = Scheduler(programme("playlists: {music: [m/]}\nfallback: music\n"), files({"music": 2})).next_choice(1000.0, [])
    onair.announce(TrackInfo(Path("/m/a.mp3"), "Band", "First", 100.0), choice, 1000.0, 0)
    assert onair.now_playing(1000.0)["song"]["title"] == "First"  # nothing released yet (no mount): what is announced
    onair.aired("Band - First")
    onair.announce(TrackInfo(Path("/m/b.mp3"), "Band", "Second", 100.0), choice, 1100.0, 4_410_000)  # fed 0.5 s ahead
    assert onair.now_playing(1099.6)["song"]["title"] == "First" and onair.now_playing(1099.6)["elapsed"] == 99.6
    assert onair.history_view() == []  # what still airs is now playing, not history as well
    onair.aired("Band - Second")
    assert onair.now_playing(1100.1)["song"]["title"] == "Second" and onair.now_playing(1100.1)["elapsed"] == 0.1
    assert [h["song"]["title"] for h in onair.history_view()] == ["First"]
    onair.announce(TrackInfo(Path("/m/b.mp3"), "Band", "Second", 100.0), choice, 1200.0, 8_820_000)  # the same title again
    assert onair.now_playing(1200.0)["start"] == "1970-01-01T00:20:00.000Z"  # no new title to wait for


def test_an_event_is_logged_due_at_the_programme_s_own_clock(caplog):
    """QA: the log said 'event hardone (hard) due at 02:40:30' for an event written as 04:40:30
    in an Africa/Harare programme (the machine's clock, UTC)."""
    import logging

    from streamer.audio.cues import Cues

    events = "events:\n  hardone: {at: '04:40:30', play: ids}\n"
    p = programme("timezone: Africa/Harare\nplaylists: {music: [m/], ids: [i/]}\nfallback: music\n" + events)
    scheduler = Scheduler(p, files({"music": 2, "ids": 1}))
    cues = Cues(lambda t: int(t * 44100))
    at = dt.datetime(2026, 11, 28, 4, 40, 30, tzinfo=ZoneInfo("Africa/Harare")).timestamp()
    cues.follow(scheduler, at - 10)
    cues.collect(at + 0.5)
    with caplog.at_level(logging.INFO, logger="streamer"):
        assert cues.pop_due() is not None
    assert "event 'hardone' (soft) due at 04:40:30 CAT" in caplog.text, caplog.text


def test_the_timeline_says_when_a_block_or_event_has_nothing_playable():
    """QA: `streamer schedule` listed an event and a block whose playlists had nothing playable
    as if they would air, while the fallback aired (and the event did not)."""
    p = programme(
        "timezone: Africa/Harare\nplaylists: {music: [m/], ids: [i/], gone: [g/]}\nfallback: music\n"
        "blocks:\n  badblock: {start: '06:00', end: '07:00', play: gone, fade_out: 2}\n"
        "events:\n  miss1: {at: '06:30', play: gone, start: hard}\n  toh: {at: '06:45', play: ids}\n"
    )
    lines = render_timeline(Scheduler(p, files({"music": 2, "ids": 1})), ts(ZoneInfo("Africa/Harare"), 2026, 11, 27, 5, 59), 1)
    assert "06:00  block badblock (priority 0): gone; fade out 2 s (nothing playable: the fallback music plays)" in lines, lines
    assert any(
        "event miss1: plays gone" in line and line.endswith("(nothing playable: it does not air, and what plays goes on)") for line in lines
    )
    assert any(line.endswith("event toh: plays ids (soft: after the current track)") for line in lines), lines
    # The fallback empty too (QA: "the fallback music plays", while other playlists stood in)
    lines = render_timeline(Scheduler(p, files({"ids": 1})), ts(ZoneInfo("Africa/Harare"), 2026, 11, 27, 5, 59), 1.5)
    assert "05:59  no block: fallback playlist music (nothing playable: other playlists stand in)" in lines, lines
    nor = "(nothing playable, nor in the fallback music: other playlists stand in)"
    assert f"06:00  block badblock (priority 0): gone; fade out 2 s {nor}" in lines


def test_the_week_index_finds_what_a_look_at_every_block_each_minute_finds():
    """QA: a 1,000-block programme held the event loop 2.2 s for one /api/schedule and took 28 s
    to check, looking at every block each minute. The week's index must find the same blocks on
    air and the same overlaps (days, first minutes, order), midnight runs, dates and DST included."""
    from streamer.schedule.timeline import _overlaps_by_minute, timeline

    rng = random.Random(7)
    days = ["daily", "weekdays", "weekends", "mon", "sun", "tue-thu", "fri-sun"]
    for _ in range(12):
        lines = []
        for n in range(rng.randint(2, 14)):
            start, end = rng.randrange(0, 24 * 60, 15), rng.randrange(0, 24 * 60 + 1, 15)  # (24:00: to midnight)
            end = end if end != start else (start + 60) % (24 * 60)
            dates = ", dates: {from: 2026-03-28, until: 2026-03-30}" if rng.random() < 0.2 else ""
            lines.append(
                f"  b{n}: {{days: '{rng.choice(days)}', start: '{start // 60:02d}:{start % 60:02d}', end: '{end // 60:02d}:{end % 60:02d}',"
                f" priority: {rng.randint(0, 3)}, play: music{dates}}}"
            )
        p = programme("timezone: Europe/London\nplaylists: {music: [m/]}\nfallback: music\nblocks:\n" + "\n".join(lines) + "\n")
        assert [(o.a.name, o.b.name, o.starts) for o in overlaps(p)] == [(o.a.name, o.b.name, o.starts) for o in _overlaps_by_minute(p)]
        s = Scheduler(p, files({"music": 1}))
        start = ts(LONDON, 2026, 3, 28, 0, 0, 30)  # across the spring-forward night, from between minutes
        walked, t, current = [], start, object()
        while t < start + 48 * 3600:
            if (block := s.block_at(t)) is not current:
                walked.append((t, block.name if block else ""))
                current = block
            t = (t // 60 + 1) * 60
        assert [(e.time, e.name) for e in timeline(s, start, 48) if e.kind == "block"] == walked


def test_what_plays_next_before_an_event_with_nothing_to_air_is_the_song_after():
    """QA: `playing_next` was null for the 25 s before a hard event whose playlist had nothing
    playable; the event then cut nothing and the next song played as usual."""
    from streamer.audio.cues import Cues
    from streamer.audio.onair import NowPlaying, OnAir
    from streamer.audio.upcoming import Ahead, upcoming
    from streamer.library.tags import TrackInfo

    yaml = "timezone: UTC\nplaylists: {music: [m/], promo: [p/]}\nfallback: music\n"
    yaml += "events:\n  sponsor: {at: ':58:30', play: promo, start: hard}\n"
    now = ts(dt.UTC, 2026, 11, 28, 15, 58, 14)
    for promos, want in ((0, "music"), (1, "promo")):
        s = Scheduler(programme(yaml), files({"music": 2, "promo": promos}))
        cues = Cues(lambda wall: int(wall * 44100))
        cues.follow(s, now)
        onair = OnAir()
        onair.now = NowPlaying(TrackInfo(Path("/m/music/0.mp3"), "A", "Song", 60.0), "music", "song", None, now - 30, 0, "A - Song")
        ahead = upcoming(s, cues, onair, Ahead(crossfade=0.0), now)
        assert ahead is not None and ahead[1].playlist == want, (promos, ahead)
        assert ahead[0] == (now + 30 if promos == 0 else ts(dt.UTC, 2026, 11, 28, 15, 58, 30))  # the song's end, or the event's second


def test_events_missed_while_the_station_was_held_are_let_go_not_aired_one_after_another():
    from streamer.audio.cues import MISSED_AFTER, Cues

    yaml = "timezone: UTC\nplaylists: {music: [m/], news: [n/]}\nfallback: music\n"
    yaml += "events:\n  news: {at: ':00:00', play: news, start: hard}\n"
    s = Scheduler(programme(yaml), files({"music": 2, "news": 1}))
    cues = Cues(lambda wall: int(wall * 100))
    held = ts(dt.UTC, 2026, 11, 28, 12, 30, 0)
    cues.follow(s, held)
    back = ts(dt.UTC, 2026, 11, 28, 15, 0, 20)  # stopped from 12:30 to 15:00:20
    missed = cues.let_missed_go(back)
    assert [o.time for o in missed] == [ts(dt.UTC, 2026, 11, 28, h, 0, 0) for h in (13, 14)]  # let go, not aired at 15:00:20
    cues.collect(back)
    assert [o.time for o in cues.due] == [ts(dt.UTC, 2026, 11, 28, 15, 0, 0)]  # 20 s late: it still airs
    assert cues.next is not None and cues.next.time == ts(dt.UTC, 2026, 11, 28, 16, 0, 0)
    assert cues.let_missed_go(back + MISSED_AFTER) == []  # nothing more


def test_after_the_system_clock_is_stepped_the_next_event_is_the_one_after_the_new_time(monkeypatch, caplog):
    import asyncio
    import types

    from streamer.audio import output as output_module
    from streamer.audio.cues import Cues
    from streamer.audio.output import Output
    from streamer.audio.timeline import Timeline

    yaml = "timezone: UTC\nplaylists: {music: [m/], news: [n/]}\nfallback: music\n"
    yaml += "events:\n  news: {at: ':00:00', play: news, start: hard}\n"
    s = Scheduler(programme(yaml), files({"music": 2, "news": 1}))
    booted = ts(dt.UTC, 1970, 1, 1, 0, 0, 30)  # a box without a clock chip, before NTP's first sync
    synced = ts(dt.UTC, 2026, 11, 28, 15, 40, 0)
    wall = [booted]
    monkeypatch.setattr(output_module, "time", types.SimpleNamespace(time=lambda: wall[0]))

    async def run() -> None:
        timeline = Timeline(44100, 0.5)
        cues = Cues(lambda w: timeline.sample_at(w, wall[0]))
        out = Output(timeline, cues, [], 2)
        timeline.begin(asyncio.get_running_loop().time(), wall[0])
        cues.follow(s, timeline.wall0)
        assert cues.next is not None and cues.next.time == ts(dt.UTC, 1970, 1, 1, 1, 0, 0)
        wall[0] = synced  # the clock is stepped
        await out.emit(out.silence(0.1))  # the next step fed
        assert cues.next is not None and cues.next.time == ts(dt.UTC, 2026, 11, 28, 16, 0, 0)
        assert abs(timeline.time_of(0, wall[0]) - (synced + 0.5)) < 0.05  # the new times (sample 0 airs 0.5 s after begin)

    with caplog.at_level("WARNING", logger="streamer.feeder"):
        asyncio.run(run())
    assert "the system clock was stepped by +" in caplog.text


def test_a_copy_of_a_song_under_another_name_is_the_same_song_for_the_track_window():
    """QA: a copy of a file under another name aired right after it (no title change at all for
    listeners), and seven times in 12 minutes: the track window went by file name."""
    from types import SimpleNamespace

    p = programme("playlists:\n  music: {files: [m/], order: random, no_repeat: {track: 12}}\nfallback: music\n")
    music = files({"music": 6})
    tags = {path: SimpleNamespace(artist=f"Band {i}", title=f"Song {i}") for i, path in enumerate(music["music"])}
    tags[music["music"][5]] = SimpleNamespace(artist="band 0", title="SONG 0")  # a copy of the first, renamed
    tags[music["music"][4]] = SimpleNamespace(artist="", title="Song 0")  # no artist: a song of its own
    s = Scheduler(p, music, rng=random.Random(7), tags=tags)
    history = simulate(s, ts(dt.UTC, 2026, 11, 24), 12, lambda: 180)  # five songs of 3 min: a 12 min window holds

    def song(path: Path) -> tuple[str, str]:
        return (tags[path].artist.casefold(), tags[path].title.casefold())

    for i, h in enumerate(history):
        for earlier in history[max(0, i - 6) : i]:
            if song(earlier.path) == song(h.path):
                assert h.time - earlier.time >= 12 * 60, (earlier, h)


def test_when_every_file_is_held_back_the_one_held_back_longest_plays_by_the_windows_that_are_set():
    """QA: with a track window only (the shipped station's), Gweru Groove aired twice in 2 min 15 s
    while Kariba Blue, which had aired before it, waited: Kariba's artist had aired since with
    another song, and that counted although no artist window was set."""
    from types import SimpleNamespace

    from streamer.schedule.norepeat import Windows

    t = 10_000.0
    a, b, c = Path("/m/kariba.mp3"), Path("/m/harare.mp3"), Path("/m/gweru.mp3")
    artists = {a: "Streamer Test Tones", b: "Streamer Test Tones", c: "Tinotenda"}
    history = [Played(t - 170, a, "", "music", "song", None), Played(t - 140, c, "", "music", "song", None)]
    history.append(Played(t - 30, b, "", "music", "song", None))
    windows = Windows(SimpleNamespace(no_repeat_track=3, no_repeat_artist=0), t, history, artists.__getitem__)
    assert [windows.conflict(f) for f in (a, c)] == [t - 170, t - 140]  # Kariba was held back longest
    artist_too = Windows(SimpleNamespace(no_repeat_track=3, no_repeat_artist=3), t, history, artists.__getitem__)
    assert [artist_too.conflict(f) for f in (a, c)] == [t - 30, t - 140]  # with an artist window, its artist counts


def test_at_start_an_event_that_fell_due_just_before_airs_unless_the_last_run_aired_it(caplog):
    """QA: a restart at 10:00:00.1 lost the top-of-the-hour ID and the news without a word."""
    import types

    from streamer.audio.cues import START_GRACE, events_from

    yaml = (
        "timezone: UTC\nplaylists: {music: [m/], news: [n/]}\nfallback: music\nevents:\n  news: {at: ':00:00', play: news, start: hard}\n"
    )
    s = Scheduler(programme(yaml), files({"music": 2, "news": 1}))
    due = ts(dt.UTC, 2026, 11, 29, 10, 0, 0)
    with caplog.at_level("WARNING", logger="streamer.feeder"):
        after = events_from(s, due + 2.5, [])  # started 2.5 s after it: it airs now
    assert after == due + 2.5 - START_GRACE and s.next_event(after).time == due
    assert "event news fell due 2.5 s before the station started: it airs now" in caplog.text
    aired = [types.SimpleNamespace(event="news", started=due + 0.2)]  # the last run aired it before it stopped
    assert s.next_event(events_from(s, due + 2.5, aired)).time == due + 3600
    assert events_from(s, due + START_GRACE + 5, []) == due + START_GRACE + 5  # long before: let go, as before
    assert events_from(s, due - 10, []) == due - 10  # nothing fell due


@pytest.mark.parametrize("every", ["2 songs", "1 min"])
def test_a_timed_event_from_the_jingles_playlist_is_the_jingle_it_would_have_doubled(every):
    """QA: the top-of-the-hour ID (an event playing `ids`) was followed at once by the block's
    jingle from `ids`: two IDs back to back. It counts as the jingle; an event from another
    playlist (the news) does not."""
    p = programme(
        "playlists: {music: [m/], ids: [i/], news: [n/]}\nfallback: music\n"
        f"blocks:\n  day: {{start: '00:00', end: '00:00', play: music, jingles: {{play: ids, every: {every}}}}}\n"
    )
    s = Scheduler(p, files({"music": 10, "ids": 2, "news": 1}))
    t = ts(dt.UTC, 2026, 11, 24, 10, 0)
    song = Played(t - 400, Path("/m/music/0.mp3"), "A", "music", "song", "day")
    for before in ([song, song], [song, song, song]):
        after_id = [*before, Played(t - 5, Path("/m/ids/0.mp3"), "", "ids", "event", "day")]
        after_news = [*before, Played(t - 5, Path("/m/news/0.mp3"), "", "news", "event", "day")]
        assert s.next_choice(t, after_id).kind == "song"  # the event was the ID
        assert s.next_choice(t, after_news).kind == "jingle"  # the news is no ID: the jingle that is due plays


def test_a_block_on_a_second_is_listed_at_its_second():
    """QA: `start: "23:00:30"` was accepted but shown at 23:01 (the listing walks minute by minute)."""
    p = programme(
        "timezone: UTC\nplaylists: {music: [m/], talk: [t/]}\nfallback: music\n"
        "blocks:\n  late: {start: '23:00:30', end: '01:00:15', play: talk}\n"
    )
    s = Scheduler(p, files({"music": 2, "talk": 2}))
    lines = render_timeline(s, ts(dt.UTC, 2026, 11, 24, 22, 0, 10), 4)
    clocks = [line.split("  ")[0] for line in lines if not line.startswith(("Monday", "Tuesday", "Wednesday"))]
    assert clocks == ["22:00", "23:00:30", "01:00:15"], lines  # (the first: where the listing starts)
    assert s.block_at(ts(dt.UTC, 2026, 11, 24, 23, 0, 30)).name == "late" and s.block_at(ts(dt.UTC, 2026, 11, 24, 23, 0, 29)) is None


def test_after_silence_now_playing_names_nothing_until_the_next_title_airs():
    """QA's test (under load): once a fix brought music back after silence for want of anything
    playable, /api/nowplaying named the last song from before the silence (Short Two) until the
    new one's title reached listeners. A stand-in chosen during the silence did the same until
    it aired (or failed)."""
    from streamer.audio.onair import OnAir
    from streamer.library.tags import TrackInfo

    p = programme("playlists: {music: [m/]}\nfallback: music\n")
    onair, t = OnAir(), 1000.0
    choice = Scheduler(p, files({"music": 2})).next_choice(t, [])
    onair.announce(TrackInfo(Path("/m/a.mp3"), "Band", "Before", 100.0), choice, t, 0)
    onair.aired("Band - Before")
    nothing = Scheduler(p, files({"music": 0}))
    onair.note_stand_in(nothing.next_choice(t + 100, []), nothing)  # silence
    assert onair.silent and onair.now_playing(t + 101) is None
    stand_in = Scheduler(p, files({"music": 0}))  # a reload: another programme's scheduler
    onair.note_stand_in(Choice(Path("/m/gone.mp3"), "music", "song", None, Fades(), stand_in="songs that aired lately"), stand_in)
    assert onair.now_playing(t + 102) is None  # chosen, not airing
    onair.announce(TrackInfo(Path("/m/c.mp3"), "Band", "After", 100.0), choice, t + 110, 0)  # the fix: announced ahead
    assert onair.now_playing(t + 109.6) is None  # silence still airs: not "Before"
    onair.aired("Band - After")
    assert onair.now_playing(t + 110.1)["song"]["title"] == "After"


def fit_scheduler(lengths: dict[str, float], order: str = "sequential") -> Scheduler:
    """music: /m/music/{0,1,2}.mp3, ids: /m/ids/{0,1}.mp3; `lengths` by file stem 'music/0'."""
    p = programme(
        f"playlists: {{music: {{files: [m/], order: {order}}}, ids: [i/]}}\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: music, jingles: {play: ids, every: 100 songs}}\n"
    )
    known = {Path(f"/m/{name}.mp3"): seconds for name, seconds in lengths.items()}
    return Scheduler(p, files({"music": 3, "ids": 2}), length=known.get)


def test_with_a_minute_to_a_cut_a_song_that_fits_plays_and_the_one_it_put_back_comes_next():
    """QA: 3 s of a 20 s song aired before the news (and counted as a play). Under a minute
    before a cut, a song that would run past it gives way to the longest one that fits."""
    s = fit_scheduler({"music/0": 200.0, "music/1": 45.0, "music/2": 30.0, "ids/0": 5.0, "ids/1": 8.0})
    t = ts(dt.UTC, 2026, 11, 24, 9, 59, 10)
    assert s.preview(t, [], room=50.0).path == Path("/m/music/1.mp3")
    choice = s.next_choice(t, [], room=50.0)
    assert (choice.path, choice.kind) == (Path("/m/music/1.mp3"), "song")
    # the song put back is next in its turn (a list: nothing skipped), then the list goes on
    assert [s.next_choice(t + 60, []).path.stem for _ in range(3)] == ["0", "2", "0"]


@pytest.mark.parametrize(
    ("room", "expected"),
    [
        (120.0, "music/0"),  # a minute or more: a hard event cuts, as DJs expect
        (50.0, "music/1"),  # a song fits
        (29.0, "music/0"),  # no song fits, and a jingle fills only under 20 s
        (10.0, "ids/1"),  # the longest jingle that fits
        (6.0, "ids/0"),
        (4.0, "music/0"),  # nothing fits: the song starts and is cut, as before
        (199.6, "music/0"),  # it fits (the fade takes the last half second)
    ],
)
def test_what_fits_before_a_cut(room, expected):
    s = fit_scheduler({"music/0": 200.0, "music/1": 45.0, "music/2": 30.0, "ids/0": 5.0, "ids/1": 8.0})
    choice = s.next_choice(ts(dt.UTC, 2026, 11, 24, 9, 59), [], room=room)
    assert f"{choice.path.parent.name}/{choice.path.stem}" == expected
    assert choice.kind == ("jingle" if expected.startswith("ids") else "song")


def test_a_filler_is_never_a_second_jingle_a_song_just_heard_or_one_of_unknown_length():
    s = fit_scheduler({"music/0": 200.0, "music/1": 45.0, "ids/0": 5.0, "ids/1": 8.0})  # music/2: length unknown
    t = ts(dt.UTC, 2026, 11, 24, 9, 59, 10)
    jingle = Played(t - 8, Path("/m/ids/1.mp3"), "", "ids", "jingle", "day")
    assert s.preview(t, [jingle], room=10.0).path == Path("/m/music/0.mp3")  # cut, rather than two IDs back to back
    heard = Played(t - 1800, Path("/m/music/1.mp3"), "A", "music", "song", "day")
    assert s.preview(t, [heard], room=50.0).path == Path("/m/music/0.mp3")  # heard half an hour ago: no filler
    assert s.preview(t, [Played(t - 4000, heard.path, "A", "music", "song", "day")], room=50.0).path == heard.path
    unknown = fit_scheduler({"music/1": 45.0})  # the regular choice's length is not known: it plays
    assert unknown.preview(t, [], room=50.0).path == Path("/m/music/0.mp3")


def test_fillers_respect_no_repeat_windows_and_a_shuffle_keeps_its_round():
    p = programme(
        "playlists: {music: {files: [m/], order: shuffle, no_repeat: {artist: 180}}}\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: music}\n"
    )
    short = Path("/m/music/3.mp3")
    s = Scheduler(p, files({"music": 6}), rng=random.Random(3), length=lambda f: 40.0 if f == short else 200.0, artist_of=lambda f: f.stem)
    t = ts(dt.UTC, 2026, 11, 24, 9, 59, 10)
    assert s.preview(t, [Played(t - 7200, short, "3", "music", "song", "day")], room=50.0).path != short  # its artist's window
    assert s.next_choice(t, [], room=50.0).path == short
    round_rest = [s.next_choice(t + 60 * k, []).path for k in range(1, 6)]
    assert sorted(round_rest) == sorted(f for f in files({"music": 6})["music"] if f != short)  # the round stays whole
