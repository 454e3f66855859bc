import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from streamer.schedule.model import LoadedProgramme
from streamer.schedule.programme import PlaylistDef, Programme, load_programme, load_with_files, parse_programme_file
from streamer.schedule.rotation import Rotation
from streamer.schedule.sources import expand_sources, watched_folders
from streamer.schedule.timeline import overlaps
from streamer.schedule.watch import removed
from streamer.yamldoc import ConfigError, Problem, read_yaml_file

FILES = [Path(f"/m/{i}.mp3") for i in range(7)]


def test_shuffle_plays_all_before_repeating_and_never_twice_in_a_row():
    r = Rotation(FILES, "shuffle", random.Random(3))
    picks = [r.next() for _ in range(7 * 50)]
    for i in range(0, len(picks), 7):
        assert sorted(picks[i : i + 7]) == sorted(FILES)
    assert all(a != b for a, b in itertools.pairwise(picks))


def test_sequential_and_random():
    r = Rotation(FILES[:3], "sequential")
    assert [r.next() for _ in range(4)] == [*FILES[:3], FILES[0]]
    rnd = Rotation(FILES, "random", random.Random(1))
    counts = Counter(rnd.next() for _ in range(7000))
    assert set(counts) == set(FILES) and min(counts.values()) > 800


def test_empty_rotation():
    assert Rotation([], "shuffle").next() is None


def test_a_reload_goes_on_with_the_round():
    """A reload mid-round: what was still to play this round plays before anything repeats,
    a file added joins the round, a removed one drops out; sequential carries on in place."""
    old = Rotation(FILES[:5], "shuffle", random.Random(5))
    played = [old.next() for _ in range(3)]
    new = Rotation([*FILES[:4], FILES[5]], "shuffle", random.Random(6))  # FILES[4] removed, FILES[5] added
    new.carry_over(old)
    expected = (set(FILES[:5]) - set(played) - {FILES[4]}) | {FILES[5]}  # the round's remainder, and the newcomer
    rest = [new.next() for _ in range(len(expected))]
    assert set(rest) == expected and len(rest) == len(set(rest))
    seq = Rotation(FILES[:3], "sequential")
    seq.next(), seq.next()
    again = Rotation(FILES[:4], "sequential")
    again.carry_over(seq)
    assert [again.next() for _ in range(3)] == [FILES[2], FILES[3], FILES[0]]
    # The file on air deleted: the next one still there follows, not the first (found by QA)
    seq = Rotation(FILES[:5], "sequential")
    seq.next(), seq.next()  # FILES[1] on air
    gone = Rotation([FILES[0], *FILES[2:5]], "sequential")
    gone.carry_over(seq)
    assert [gone.next() for _ in range(3)] == [FILES[2], FILES[3], FILES[4]]
    last = Rotation(FILES[:3], "sequential")
    last.next(), last.next(), last.next()  # the last file on air, then deleted: round to the top
    wrapped = Rotation(FILES[:2], "sequential")
    wrapped.carry_over(last)
    assert wrapped.next() == FILES[0]


def test_watched_folders(tmp_path):
    (tmp_path / "audio" / "sub").mkdir(parents=True)
    (tmp_path / "jingles").mkdir()
    (tmp_path / "list.m3u").write_text("a.mp3\n")
    (tmp_path / "p.yaml").write_text(
        "playlists:\n  music: {files: [audio/, list.m3u, one.mp3]}\n  ids: {files: ['jingles/**/*.wav']}\nfallback: music\n"
    )
    programme = load_programme(tmp_path)
    # list.m3u's a.mp3 and one.mp3 will come in tmp_path
    watched = [tmp_path / "audio", tmp_path / "audio" / "sub", tmp_path / "list.m3u", tmp_path, tmp_path]
    assert watched_folders(programme.playlists["music"]) == watched
    assert watched_folders(programme.playlists["ids"]) == [tmp_path / "jingles"]


def test_parse_problems_name_the_line():
    problems: list[Problem] = []
    parse_programme_file("playlists:\n  music:\n    files: [a/]\n    oder: shuffle\n", Path("p.yaml"), Programme(), problems)
    assert str(problems[0]) == "p.yaml:4:5: unknown key 'playlists.music.oder' (did you mean 'order'?)"


def test_load_programme_and_expand(tmp_path):
    (tmp_path / "audio" / "sub").mkdir(parents=True)
    for name in ("a.mp3", "b.ogg", "notes.txt", "sub/c.flac"):
        (tmp_path / "audio" / name).write_bytes(b"x")
    (tmp_path / "list.m3u").write_text("#EXTM3U\naudio/a.mp3\n/abs/z.mp3\n")
    (tmp_path / "p.yaml").write_text("playlists:\n  music:\n    files: [audio/, 'audio/*.ogg', list.m3u, nothing/*.mp3]\nfallback: music\n")
    programme = load_programme(tmp_path)
    assert programme.fallback == "music"
    files, warnings = expand_sources(programme.playlists["music"])
    names = [f.name for f in files]
    assert names == ["a.mp3", "b.ogg", "c.flac", "b.ogg", "a.mp3"]  # /abs/z.mp3 is not there: out, as a missing named file
    assert warnings == [
        f"{tmp_path / 'list.m3u'}:3: playlist 'music': '/abs/z.mp3' file not found",
        f"{tmp_path / 'p.yaml'}:3:46: playlist 'music': 'nothing/*.mp3' matches no audio files",  # the entry's place
    ]


def test_unknown_fallback_is_an_error(tmp_path):
    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a.mp3]}\nfallback: musik\n")
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    assert str(exc.value) == f"{tmp_path / 'p.yaml'}:3:11: fallback 'musik' is not a playlist (did you mean 'music'?)"


def test_a_wrong_name_is_said_with_the_other_problems_not_once_they_are_fixed(tmp_path):
    """QA: a block's jingles with no `every`, and another block's jingles naming 'jingz': only the
    first was said, and 'jingz' only on the next run. Every problem comes at once."""
    (tmp_path / "p.yaml").write_text(
        "playlists:\n  music: {files: [a.mp3]}\n  jing: {files: [j.mp3]}\nblocks:\n"
        "  a: {start: '01:00', end: '02:00', play: music, jingles: {play: jing}}\n"
        "  c: {start: '03:00', end: '04:00', play: music, jingles: {play: jingz, every: 1 min}}\nfallback: music\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    lines = str(exc.value).splitlines()
    assert len(lines) == 2 and "blocks.a.jingles.every must be like" in lines[0]
    assert lines[1] == f"{tmp_path / 'p.yaml'}:6:66: block 'c' jingles plays 'jingz', which is not a playlist (did you mean 'jing'?)"
    (tmp_path / "q.yaml").write_text("blocks: [not, a, mapping\n")  # a file that cannot be read: its names are unknown
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    assert "jingz" not in str(exc.value)


def test_fallback_is_required(tmp_path):
    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a.mp3]}\n")
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    assert "p.yaml:1:1: no fallback: add 'fallback: PLAYLIST'" in str(exc.value)
    assert PlaylistDef.__slots__


def test_a_huge_fifo_or_binary_yaml_file_is_named_without_being_read_whole(tmp_path):
    """Files dropped into playlists/ by mistake: each is named with what is wrong, a 50 MB one
    from its size (it is never read whole), a FIFO without waiting for a writer (it would hang
    the reload), a binary one with the line of its first bad byte."""
    import os
    import threading

    (tmp_path / "music.yaml").write_text("playlists:\n  m: {files: ['/tmp/a.mp3']}\nfallback: m\n")
    with (tmp_path / "huge.yaml").open("wb") as f:
        f.truncate(52_428_800)  # sparse: 50 MB on paper
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "photo.yml").write_bytes(b"playlists:\n  x: {files: []}\n\xff\xd8\xff\xe0 JFIF")
    result: list[ConfigError] = []

    def load() -> None:
        try:
            load_programme(tmp_path)
        except ConfigError as exc:
            result.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    assert result, "load_programme hung on the FIFO (or loaded)"
    problems = sorted(str(p) for p in result[0].problems)
    assert problems == [
        f"{tmp_path}/huge.yaml:1:1: file too large: 52,428,800 bytes (at most 1,000,000); is it really YAML?",
        f"{tmp_path}/photo.yml:3:1: not UTF-8 text (byte 29); save it as UTF-8",
        f"{tmp_path}/pipe.yaml:1:1: not a regular file (a folder, FIFO or device?)",
    ], problems


def test_a_missing_folder_or_named_file_is_no_file_and_says_so(tmp_path):
    (tmp_path / "p.yaml").write_text("playlists:\n  music:\n    files: [audio/musik/, gone, later.mp3, 'x/*.mp3']\nfallback: music\n")
    spec = load_programme(tmp_path).playlists["music"]
    files, warnings = expand_sources(spec)
    # nothing listed: a hard event whose only file is missing would otherwise cut the song on air
    # for a file that fails at once (Scheduler.has_audio sees only what is listed)
    assert files == []
    # each at its own entry (QA: all at the playlist's name, a line above, with no column)
    at = f"{tmp_path / 'p.yaml'}:3"
    missing = [f"{at}:13: playlist 'music': 'audio/musik/' no such folder", f"{at}:27: playlist 'music': 'gone' no such folder"]
    missing.append(f"{at}:33: playlist 'music': 'later.mp3' file not found")
    assert warnings == [*missing, f"{at}:44: playlist 'music': 'x/*.mp3' matches no audio files"]
    (tmp_path / "p.yaml").write_text("playlists:\n  music: [a/]\n  talk:\n    files:\n      - t/\n      - gone.mp3\nfallback: music\n")
    short, listed = load_programme(tmp_path).playlists.values()
    assert expand_sources(short)[1] == [f"{tmp_path / 'p.yaml'}:2:11: playlist 'music': 'a/' no such folder"]
    assert expand_sources(listed)[1][1] == f"{tmp_path / 'p.yaml'}:6:9: playlist 'talk': 'gone.mp3' file not found"
    # where each will appear is watched, so creating it reloads the programme
    assert watched_folders(spec) == [tmp_path] * 4


def test_a_reload_says_what_it_removed():
    before = {"playlists": ["music", "ids"], "blocks": ["day", "night"], "events": ["news", "id"]}
    assert removed(before, {"playlists": ["music", "ids"], "blocks": ["day"], "events": []}) == "blocks night; events news, id"
    assert removed(before, before) == "" and removed({}, before) == ""
    many = {"playlists": [f"p{i}" for i in range(16_500)]}
    assert removed(many, {}) == "playlists p0, p1, p2, p3, p4, p5, p6, p7, p8, p9 and 16,490 more"


def test_overlaps_of_equal_priority_are_warnings_of_the_running_station_too(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "playlists:\n  music: {files: [a.mp3]}\nfallback: music\nblocks:\n"
        "  a: {start: '10:00', end: '12:00', play: music}\n  b: {start: '11:00', end: '13:00', play: music}\n"
        "  c: {start: '11:30', end: '12:30', play: music, priority: 5}\n"
    )
    warnings = [w for w in load_with_files(tmp_path).warnings if " overlap (" in w]
    assert len(warnings) == 1 and warnings[0].startswith(f"{tmp_path / 'p.yaml'}:6: blocks 'a' and 'b' overlap"), warnings
    assert "same priority" in warnings[0]


def test_an_overlap_names_every_day_it_happens(tmp_path):
    """QA: only the first day was named ('mon from 16:00' for a block that also met another at the weekend)."""
    (tmp_path / "p.yaml").write_text(
        "playlists:\n  music: {files: [a.mp3]}\nfallback: music\nblocks:\n"
        "  day: {start: '06:00', end: '20:00', play: music}\n"
        "  drive: {days: mon-fri, start: '16:00', end: '19:00', play: music, priority: 2}\n"
        "  late: {days: [sat, sun, wed], start: '19:30', end: '21:00', play: music, priority: 1}\n"
    )
    notes = {o.b.name: o.describe() for o in overlaps(load_with_files(tmp_path).programme)}
    assert notes["drive"].endswith("overlap (mon-fri from 16:00): 'drive' plays"), notes
    assert notes["late"].endswith("overlap (wed,sat,sun from 19:30): 'late' plays"), notes


def test_a_byte_that_is_not_utf8_is_placed_at_its_line_and_column(tmp_path):
    (tmp_path / "w.yaml").write_bytes("playlists:\n  # é\n  caf".encode() + b"\xe9: {files: [a/]}\n")
    with pytest.raises(ConfigError) as exc:
        read_yaml_file(tmp_path / "w.yaml")
    assert str(exc.value) == f"{tmp_path / 'w.yaml'}:3:6: not UTF-8 text (byte 24); save it as UTF-8"


def test_an_edit_that_changes_the_watched_folders_is_read_once(tmp_path):
    import asyncio

    from streamer.schedule.watch import ProgrammeWatcher

    (tmp_path / "a").mkdir()
    (tmp_path / "bb").mkdir()  # a longer name: the edit changes the file's size (its time may not change)
    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n")
    loads: list[LoadedProgramme] = []

    async def offload(_timeout: float, fn, *args):
        return fn(*args)

    async def edit_and_look() -> tuple:
        watcher = ProgrammeWatcher(tmp_path, offload, loads.append, settle=0.0)
        await watcher.first()
        quiet = await watcher.look()
        (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [bb/]}\nfallback: music\n")
        return quiet, await watcher.look(), await watcher.look()

    quiet, changed, again = asyncio.run(edit_and_look())
    assert not quiet and changed and not again  # the edit is read once, not again at the next look
    assert [ld.watched for ld in loads] == [[tmp_path / "a"], [tmp_path / "bb"]]

    async def save_as_text() -> bool:  # Notepad's `news.yaml.txt`: said at once (QA: only at the next edit)
        watcher = ProgrammeWatcher(tmp_path, offload, loads.append, settle=0.0)
        await watcher.first()
        (tmp_path / "news.yaml.txt").write_text("events: {}\n")
        return await watcher.look()

    assert asyncio.run(save_as_text()) and "news.yaml.txt is not read" in loads[-1].programme.notes[-1].message


def test_hidden_yaml_files_are_no_part_of_the_programme_and_removing_a_bad_file_reloads(tmp_path):
    """An editor's lock `.#p.yaml` (a dangling symlink) or macOS's `._p.yaml` blocked every
    reload; and a bad file that could not be looked at was not in the signature, so removing it
    never reloaded: the error stuck and an edit made meanwhile was lost (found by QA)."""
    import asyncio

    from streamer.schedule.watch import ProgrammeWatcher

    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n")
    (tmp_path / ".#p.yaml").symlink_to("user@host.1234:1700000000")  # as Emacs makes it
    (tmp_path / "._p.yaml").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xfe")
    loads: list[LoadedProgramme] = []

    async def offload(_timeout: float, fn, *args):
        return fn(*args)

    async def run() -> tuple:
        watcher = ProgrammeWatcher(tmp_path, offload, loads.append, settle=0.0)
        await watcher.first()  # the hidden files are passed over
        (tmp_path / "bad.yaml").symlink_to(tmp_path / "nowhere.yaml")  # the DJ's own: an error
        broke, errors = await watcher.look(), watcher.state["errors"]
        (tmp_path / "bad.yaml").unlink()
        return broke, errors, await watcher.look(), watcher.state

    broke, errors, reloaded, state = asyncio.run(run())
    assert broke and len(errors) == 1 and "bad.yaml" in errors[0]
    assert reloaded and state["ok"] and [[f.name for f in ld.programme.files] for ld in loads] == [["p.yaml"], ["p.yaml"]]


def test_an_m3u_is_read_past_a_bom_and_its_urls_and_missing_entries_are_said_at_their_line(tmp_path):
    """QA: a UTF-8 BOM made '\\ufeff#EXTM3U' a file, an http:// entry became a path under the
    M3U's folder, and a missing entry was said at the YAML's line by `check` only: the running
    station counted it in the playlist and gave no warning."""
    (tmp_path / "m3u" / "audio").mkdir(parents=True)
    (tmp_path / "m3u" / "audio" / "a.mp3").write_bytes(b"x")
    entries = (
        "\ufeff#EXTM3U\r\n#EXTINF:10,A\r\naudio/a.mp3\r\nhttp://example.org/stream.mp3\r\nHTTPS://example.org/b\r\ngone.mp3\r\nlist.m3u\r\n"
    )
    (tmp_path / "m3u" / "list.m3u").write_text(entries, encoding="utf-8")
    (tmp_path / "p.yaml").write_text("playlists:\n  music:\n    files: [m3u/list.m3u]\nfallback: music\n")
    loaded = load_with_files(tmp_path)
    m3u = tmp_path / "m3u" / "list.m3u"
    assert loaded.files["music"] == [tmp_path / "m3u" / "audio" / "a.mp3"]
    stream = "is a stream: streams in M3U files are not supported (relay it instead: README, Live DJs, sources and relays)"
    assert loaded.warnings == [
        f"{m3u}:4: playlist 'music': 'http://example.org/stream.mp3' {stream}",
        f"{m3u}:5: playlist 'music': 'HTTPS://example.org/b' {stream}",
        f"{m3u}:6: playlist 'music': 'gone.mp3' file not found",
        f"{m3u}:7: playlist 'music': 'list.m3u' is a playlist (this very playlist), not audio: an M3U lists audio files; left out",
    ]
    assert loaded.missing == [tmp_path / "m3u" / "gone.mp3"]  # in the operator's problems, as a missing named file
    assert tmp_path / "m3u" in loaded.watched  # where gone.mp3 will appear: creating it reloads


def test_a_windows_m3u_in_its_code_page_finds_its_accented_files_and_an_m3u8_stays_utf8(tmp_path):
    """Winamp and Notepad save a plain .m3u in cp1252: 'Café.mp3' is b'Caf\\xe9.mp3' there, and
    read as UTF-8 it named no file (Caf\\ufffd.mp3). An .m3u8 is UTF-8 by definition."""
    (tmp_path / "Café.mp3").write_bytes(b"x")
    (tmp_path / "Zoë.mp3").write_bytes(b"x")
    (tmp_path / "win.m3u").write_bytes("#EXTM3U\r\nCafé.mp3\r\n".encode("cp1252"))
    (tmp_path / "utf.m3u").write_bytes("Zoë.mp3\n".encode())
    (tmp_path / "bad.m3u8").write_bytes("Café.mp3\n".encode("cp1252"))
    (tmp_path / "p.yaml").write_text("playlists:\n  music:\n    files: [win.m3u, utf.m3u, bad.m3u8]\nfallback: music\n")
    loaded = load_with_files(tmp_path)
    assert loaded.files["music"] == [tmp_path / "Café.mp3", tmp_path / "Zoë.mp3"]
    assert loaded.warnings[0] == (
        f"{tmp_path / 'bad.m3u8'}:1: playlist 'music': 'Caf\ufffd.mp3' file not found (this line is not UTF-8: save the playlist as UTF-8)"
    )


def test_an_overlap_says_where_the_other_block_is(tmp_path):
    """QA: 'week.yaml:2: blocks 'xf' and 'base' overlap' named no place for 'xf', in another file."""
    a = "playlists:\n  music: {files: [a.mp3]}\nfallback: music\nblocks:\n  xf: {start: '10:00', end: '12:00', play: music}\n"
    (tmp_path / "a.yaml").write_text(a)
    (tmp_path / "week.yaml").write_text("blocks:\n  base: {start: '00:00', end: '24:00', play: music}\n")
    lines = [o.located() for o in overlaps(load_with_files(tmp_path).programme)]
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'week.yaml'}:2: blocks 'xf' and 'base' overlap"), lines
    assert lines[0].endswith(f"('xf' is at {tmp_path / 'a.yaml'}:5)"), lines


def test_an_m3u_entry_or_a_source_whose_name_is_too_long_is_said_at_its_line_and_the_rest_loads(tmp_path):
    """QA: a 5,000-character M3U entry raised OSError (File name too long) in the playlist
    watcher at every edit, and `streamer check` ended in a traceback; a folder or a device
    listed in an M3U was said at the YAML's line."""
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.mp3").write_bytes(b"x")
    (tmp_path / "list.m3u").write_text(f"audio/a.mp3\n{'a' * 5000}.mp3\naudio\n/dev/zero\n")
    long = "b" * 5000
    (tmp_path / "p.yaml").write_text(f"playlists:\n  music:\n    files: [list.m3u]\n  other:\n    files: ['{long}.mp3']\nfallback: music\n")
    loaded = load_with_files(tmp_path)
    m3u = tmp_path / "list.m3u"
    assert loaded.files["music"] == [tmp_path / "audio" / "a.mp3"]
    assert loaded.warnings == [
        f"{m3u}:2: playlist 'music': {'a' * 200!r} cannot be looked at (File name too long): left out",
        f"{m3u}:3: playlist 'music': 'audio' is a folder, not a file: left out",
        f"{m3u}:4: playlist 'music': '/dev/zero' is not a regular file (a device, FIFO or socket): left out",
        f"{tmp_path / 'p.yaml'}:5:13: playlist 'other': {'b' * 200!r} cannot be looked at (File name too long)",
    ]


def test_a_reading_that_timed_out_is_tried_again_and_names_the_folder_alone(tmp_path):
    """QA: with the worker stopped, a good edit failed at 'playlists:1:1' after 30 s and was never
    read again (the files had not changed since): the station stayed on the old programme."""
    import asyncio

    from streamer.offload import OffloadError
    from streamer.schedule.watch import ProgrammeWatcher

    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n")
    loads: list[LoadedProgramme] = []
    hung = [False]

    async def offload(_timeout: float, fn, *args):
        if hung[0]:
            raise OffloadError("took longer than 30 s")
        return fn(*args)

    async def run() -> tuple:
        watcher = ProgrammeWatcher(tmp_path, offload, loads.append, settle=0.0)
        await watcher.first()
        hung[0] = True
        (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [b/]}\nfallback: music\n")
        failed, errors = await watcher.look(), watcher.state["errors"]
        hung[0] = False
        too_soon = await watcher.look()
        watcher._retry_at = 0.001  # (its back-off, RETRY_AFTER, has passed)
        return failed, errors, too_soon, await watcher.look(), watcher.state

    failed, errors, too_soon, retried, state = asyncio.run(run())
    assert failed and errors == [f"{tmp_path}: reading the playlists failed: took longer than 30 s; trying again in 60 s"]
    assert not too_soon and retried and state["ok"]
    assert [ld.programme.playlists["music"].sources for ld in loads] == [["a/"], ["b/"]]


def test_a_file_in_many_playlists_comes_back_from_the_worker_once(tmp_path):
    """QA: 27,000 playlists of one folder (906 KB of YAML) came back from the offload worker as
    8 MB of pickle, unpickled in the station under its interpreter lock: the loop stalled 0.86 s.
    Each file is one Path now, so the pickle names it once (4.7 MB, unpickled in 0.53 s against 1.29)."""
    import pickle

    (tmp_path / "audio").mkdir()
    for n in range(5):
        (tmp_path / "audio" / f"{n}.mp3").write_bytes(b"x")
    body = "".join(f"  p{i}: [audio/]\n" for i in range(200))
    (tmp_path / "p.yaml").write_text(f"playlists:\n{body}fallback: p0\n")
    loaded = load_with_files(tmp_path)
    firsts = {id(files[0]) for files in loaded.files.values()}
    assert len(loaded.files) == 200 and len(firsts) == 1
    assert len(pickle.dumps(loaded.files)) < 200 * 5 * 10  # a reference each, not a path each


def test_a_programme_file_being_written_is_read_once_it_rests_and_an_emptied_one_is_waited_for(tmp_path):
    """QA: an upload that emptied week.yaml before writing it again went on air 1.5 s into the
    save: the show on air gave way to the fallback. A changed file is read once it has rested a
    second; an empty one is waited for up to 10 s, then taken (what it removed is said)."""
    import asyncio
    import os
    import time

    from streamer.schedule.watch import EMPTY_HOLD, ProgrammeWatcher

    (tmp_path / "a").mkdir()
    (tmp_path / "p.yaml").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n")
    week = tmp_path / "week.yaml"
    show = 'blocks:\n  show: {start: "00:00", end: "24:00", play: music}\n'
    week.write_text(show)
    loads: list[LoadedProgramme] = []

    async def offload(_timeout: float, fn, *args):
        return fn(*args)

    def rested(path: Path, seconds: float) -> None:
        then = time.time() - seconds
        os.utime(path, (then, then))

    async def run() -> list:
        watcher = ProgrammeWatcher(tmp_path, offload, loads.append)
        rested(week, 5)
        rested(tmp_path / "p.yaml", 5)
        await watcher.first()
        seen = []
        week.write_text("")  # the save begins
        seen.append(await watcher.look())
        rested(week, 5)  # 5 s into the upload, still empty
        seen.append(await watcher.look())
        week.write_text(show.replace("show", "new-show"))  # written
        seen.append(await watcher.look())
        rested(week, 1.5)
        seen.append(await watcher.look())
        week.write_text("")  # emptied for good
        rested(week, EMPTY_HOLD + 1)
        seen.append(await watcher.look())
        return seen

    assert asyncio.run(run()) == [False, False, False, True, True]
    assert [[b.name for b in ld.programme.blocks] for ld in loads] == [["show"], ["new-show"], []]


def test_defaults_hold_for_every_block_whatever_file_they_are_in():
    """QA: `defaults: {crossfade: 3}` in playlists/zz-defaults.yaml did nothing (the blocks had
    been read), in aa-defaults.yaml it held for every block."""
    import tempfile

    from streamer.schedule.programme import load_programme

    for name in ("aa-defaults.yaml", "zz-defaults.yaml"):
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d)
            (folder / "a").mkdir()
            (folder / "a" / "x.mp3").write_bytes(b"x")
            block = 'blocks:\n  day: {start: "06:00", end: "18:00", play: music}\n'
            (folder / "m.yaml").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n" + block)
            (folder / name).write_text("defaults: {crossfade: 3, fade_in: 0.5}\n")
            programme = load_programme(folder)
            assert [(b.fades.crossfade, b.fades.fade_in) for b in programme.blocks] == [(3.0, 0.5)], name
            assert (programme.fades.crossfade, programme.fades.fade_in) == (3.0, 0.5), name
