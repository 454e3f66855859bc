"""Programme files as DJs mistype them: each mistake is named with FILE:LINE:COLUMN and the
field, and what is wrong (pure: YAML text in, problems out)."""

from pathlib import Path

import pytest

from streamer.schedule.programme import Programme, load_programme, parse_programme_file
from streamer.yamldoc import Problem

PLAYLISTS = "playlists:\n  music: {files: [a/]}\n  ids: {files: [i/]}\n"


def problems(*files: tuple[str, str]) -> list[str]:
    """Problems of the files read in turn into one programme, as printed."""
    programme, found = Programme(), list[Problem]()
    for name, text in files:
        parse_programme_file(text, Path(name), programme, found)
    return [str(p) for p in found]


def test_a_key_written_twice_in_a_block_names_both_lines():
    week = 'blocks:\n  daytime:\n    start: "10:00"\n    end: "18:00"\n    start: "11:00"\n    play: music\n'
    assert problems(("week.yaml", week)) == ["week.yaml:5:5: blocks.daytime.start is defined twice (first at line 3)"]


def test_a_second_block_of_the_same_name_in_one_file_is_refused():
    week = 'blocks:\n  daytime: {start: "10:00", end: "18:00", play: music}\n  night: {start: "22:00", end: "02:00", play: music}\n'
    week += '  daytime: {start: "12:00", end: "13:00", play: ids}\n'
    assert problems(("week.yaml", week)) == ["week.yaml:4:3: blocks.daytime is defined twice (first at line 2)"]


def test_a_top_level_section_written_twice_is_refused():
    text = PLAYLISTS + "fallback: music\nplaylists:\n  talk: {files: [t/]}\n"
    assert problems(("p.yaml", text)) == ["p.yaml:5:1: playlists is defined twice (first at line 1)"]


WEEK = 'blocks:\n  daytime: {start: "10:00", end: "18:00", play: music}\nevents:\n  toh: {at: ":00", play: ids}\n'


def test_a_block_or_event_in_two_files_names_both_places():
    got = problems(("playlists.yaml", PLAYLISTS + "fallback: music\n"), ("week.yaml", WEEK), ("week-backup.yaml", WEEK))
    assert got == [
        "week-backup.yaml:2:3: block 'daytime' is defined twice, here and at week.yaml:2:3: remove one, or rename it",
        "week-backup.yaml:4:3: event 'toh' is defined twice, here and at week.yaml:4:3: remove one, or rename it",
    ]


def test_a_playlist_in_two_files_names_the_first_without_a_trailing_colon():
    got = problems(("a.yaml", PLAYLISTS), ("b.yaml", "playlists:\n  talk: {files: [t/]}\n  ids: {files: [j/]}\n"))
    assert got == ["b.yaml:3:3: playlist 'ids' is defined twice, here and at a.yaml:3:3: remove one, or rename it"]


def block_playing(play: str) -> str:
    return PLAYLISTS + f'blocks:\n  daytime:\n    start: "10:00"\n    end: "18:00"\n    play: {play}\n'


def test_a_bad_weight_is_named_at_its_entry_with_what_is_wrong():
    assert problems(("w.yaml", block_playing("{music: -1, ids: 1}"))) == [
        "w.yaml:8:19: blocks.daytime.play.music must be a whole number of at least 1, not -1"
    ]
    assert problems(("w.yaml", block_playing("{ids: 2, music: abc}"))) == [
        "w.yaml:8:27: blocks.daytime.play.music must be a whole number of at least 1, not 'abc'"
    ]
    assert problems(("w.yaml", block_playing("{music: 1.5, ids: true}"))) == [
        "w.yaml:8:19: blocks.daytime.play.music must be a whole number of at least 1, not 1.5",
        "w.yaml:8:29: blocks.daytime.play.ids must be a whole number of at least 1, not true",
    ]


def test_zero_weights_are_each_refused_as_the_readme_has_weights_of_at_least_1():
    assert problems(("w.yaml", block_playing("\n      music: 0\n      ids: 0"))) == [
        "w.yaml:9:14: blocks.daytime.play.music must be a whole number of at least 1, not 0",
        "w.yaml:10:12: blocks.daytime.play.ids must be a whole number of at least 1, not 0",
    ]


def test_a_play_that_is_neither_a_name_nor_weights_keeps_the_general_message():
    general = "w.yaml:8:11: blocks.daytime.play must name a playlist, or map playlists to whole-number weights like {music: 3, talk: 1}"
    assert problems(("w.yaml", block_playing("[music, ids]"))) == [general]
    assert problems(("w.yaml", block_playing("{}"))) == [general]


def block_from(start: str, end: str) -> str:
    return PLAYLISTS + f'blocks:\n  x:\n    start: "{start}"\n    end: "{end}"\n    play: music\n'


def test_a_block_that_ends_when_it_starts_is_refused():
    assert problems(("w.yaml", block_from("01:00", "01:00"))) == [
        'w.yaml:7:10: blocks.x: end equals start (01:00); for all day write start: "00:00", end: "24:00"'
    ]
    assert problems(("w.yaml", block_from("18:30", "18:30:00"))) == [
        'w.yaml:7:10: blocks.x: end equals start (18:30); for all day write start: "00:00", end: "24:00"'
    ]


def test_midnight_to_midnight_is_all_day():
    for end in ("24:00", "00:00"):
        programme, found = Programme(), list[Problem]()
        parse_programme_file(block_from("00:00", end), Path("w.yaml"), programme, found)
        assert found == [] and [b.name for b in programme.blocks] == ["x"]


def test_a_clock_time_out_of_range_says_the_range_and_asks_for_quotes_only_when_yaml_read_no_text():
    def start(value: str) -> list[str]:
        return problems(("w.yaml", f"blocks:\n  b: {{start: {value}, end: '10:00', play: music}}\n"))

    clock = 'blocks.b.start must be a clock time from "00:00" to "24:00" like "06:00"'
    assert start("'25:00'") == [f"w.yaml:2:14: {clock}, not '25:00'"]
    assert start("25:00") == [f"w.yaml:2:14: {clock}, not '25:00'"]
    assert start("6") == [f"w.yaml:2:14: {clock} (quote it), not 6"]


def test_two_files_with_different_time_zones_are_refused():
    """zz.yaml's `timezone: Europe/London` beside playlists.yaml's Africa/Harare silently moved
    every time in the programme by two hours, and `check` said ok (found by QA)."""
    harare, london = "timezone: Africa/Harare\n", "timezone: Europe/London\n"
    got = problems(("playlists.yaml", harare + PLAYLISTS), ("zz.yaml", london))
    assert got == ["zz.yaml:1:11: timezone is set twice: 'Europe/London' here, 'Africa/Harare' at playlists.yaml:1:11"]
    assert problems(("playlists.yaml", harare + PLAYLISTS), ("week.yaml", harare + WEEK)) == []  # the same zone twice is no harm


def test_an_event_at_24_00_is_refused_with_what_to_write():
    """`at: "24:00", days: thu` fired at the start of Thursday, i.e. Wednesday night, and check
    accepted it (found by QA); a block's end at 24:00 stays the end of its day."""
    event = PLAYLISTS + 'events:\n  late: {at: "24:00", days: thu, play: ids}\n'
    assert problems(("p.yaml", event)) == [
        'p.yaml:5:14: events.late.at "24:00" would fire at the start of its day, not the end: write "00:00" and the next day'
    ]
    block = PLAYLISTS + 'blocks:\n  night: {start: "20:00", end: "24:00", play: music}\n'
    assert problems(("p.yaml", block)) == []
    bad = PLAYLISTS + 'events:\n  odd: {at: "7 pm", play: ids}\n'
    assert problems(("p.yaml", bad)) == [
        'p.yaml:5:13: events.odd.at must be ":MM" or ":MM:SS" (every hour) or "HH:MM" or "HH:MM:SS" (every day), quoted; not \'7 pm\''
    ]


def test_an_event_that_plays_a_playlist_and_a_bulletin_is_refused():
    """`play:` and `bulletin: true` together passed check, and which one aired was for the DJ to
    guess (found by QA)."""
    event = PLAYLISTS + 'events:\n  news: {at: ":00", play: ids, bulletin: true}\n'
    assert problems(("p.yaml", event)) == [
        "p.yaml:5:27: events.news has both play: ids and bulletin: true; an event plays a playlist or airs the news bulletin: "
        "remove one of them"
    ]


def test_an_empty_value_takes_its_default_with_a_note_and_no_problem():
    week = 'blocks:\n  daytime:\n    start: "10:00"\n    end: "18:00"\n    priority:\n    play: music\n'
    programme, found = Programme(), list[Problem]()
    parse_programme_file(PLAYLISTS + "fallback: music\n" + week, Path("week.yaml"), programme, found)
    assert found == []
    assert programme.blocks[0].priority == 0
    assert [str(n) for n in programme.notes] == [
        "week.yaml:9:14: blocks.daytime.priority is empty, so its default (0) is used: give a value or delete the line"
    ]


def test_a_wrong_playlist_name_is_named_at_the_line_that_names_it():
    """QA: 'plays musik, which is not a playlist' pointed at the block's name, lines above its play:."""
    from streamer.schedule.programme import _check_references

    week = (
        "blocks:\n  base:\n    start: '00:00'\n    end: '24:00'\n    priority: 1\n    play: musik\n"
        "    jingles: {play: idz, every: 2 songs}\n"
        "  mixed:\n    start: '01:00'\n    end: '02:00'\n    play:\n      music: 2\n      rok: 1\n"
        "events:\n  waiter:\n    at: ':30'\n    play: softev\n"
    )
    programme, found = Programme(), list[Problem]()
    parse_programme_file(PLAYLISTS + "fallback: music\n", Path("p.yaml"), programme, found)
    parse_programme_file(week, Path("week.yaml"), programme, found)
    _check_references(programme, found)
    assert [str(p).split(" which")[0] for p in found] == [
        "week.yaml:6:11: block 'base' plays 'musik',",
        "week.yaml:7:21: block 'base' jingles plays 'idz',",
        "week.yaml:13:7: block 'mixed' plays 'rok',",
        "week.yaml:17:11: event 'waiter' plays 'softev',",
    ]


def test_an_empty_jingle_interval_says_it_is_empty():
    week = "blocks:\n  base: {start: '00:00', end: '24:00', play: music, jingles: {play: ids, every: }}\n"
    found: list[Problem] = []
    parse_programme_file(PLAYLISTS + "fallback: music\n" + week, Path("week.yaml"), Programme(), found)
    assert [p.message for p in found] == ["blocks.base.jingles.every must be like '4 songs' or '15 min'; it is empty"]


def test_a_missing_fallback_names_the_folder_when_several_files_could_hold_it(tmp_path):
    """QA: with main.yaml's fallback line deleted, events.yaml (the first file) was blamed; with
    main.yaml saved empty, nothing named it."""
    from streamer.schedule.programme import load_programme
    from streamer.yamldoc import ConfigError

    (tmp_path / "events.yaml").write_text("events:\n  toh: {at: ':00', play: music}\n")
    (tmp_path / "main.yaml").write_text("playlists:\n  music: {files: [a/]}\n")
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    assert [str(p) for p in exc.value.problems] == [
        f"{tmp_path}:1:1: no fallback: add 'fallback: PLAYLIST' to one of its files so the station never goes silent"
    ]
    (tmp_path / "main.yaml").write_text("\n")
    with pytest.raises(ConfigError) as exc:
        load_programme(tmp_path)
    messages = [p.message for p in exc.value.problems]
    # the cause first, then what follows from it (QA: emptying playlists.yaml said the cause last of 11)
    assert messages[0] == "no playlists defined (add a YAML file with 'playlists:') (main.yaml is empty)", messages
    assert "plays 'music', which is not a playlist" in messages[1]


def test_a_quote_left_open_is_named_at_its_line():
    """QA: `start: "00:00` saved half typed gave 'week.yaml:5:11: YAML syntax: did not find
    expected key', a line below, with no word of the quote."""
    week = 'blocks:\n  night:\n    days: all\n    start: "00:00\n    end: "06:00"\n    play: music\n'
    found: list[Problem] = []
    assert not parse_programme_file(week, Path("week.yaml"), Programme(), found)
    assert [str(p) for p in found] == [
        "week.yaml:4:12: YAML syntax: this quote is not closed on its line (YAML read on and then: did not find expected key)"
    ]
    # A quoted value that spans lines on purpose, and an apostrophe in plain text, are not blamed.
    found.clear()
    spans = 'playlists:\n  talk: {files: [t/], note: "long\n    text"}\n  tino: {files: [Tino\'s show/]}\nfallback: [oops\n'
    assert not parse_programme_file(spans, Path("p.yaml"), Programme(), found)
    assert "not closed on its line" not in str(found[0]) and str(found[0]).startswith("p.yaml:5:11: YAML syntax: this '[' is not"), found


def test_a_tab_in_the_indentation_is_named_as_a_tab():
    """QA: a tab in place of spaces gave 'YAML syntax: found character that cannot start any token'."""
    week = 'blocks:\n  day:\n    start: "06:00"\n\tpriority: 10\n    play: music\n'
    found: list[Problem] = []
    assert not parse_programme_file(week, Path("week.yaml"), Programme(), found)
    assert [str(p) for p in found] == ["week.yaml:4:1: YAML syntax: a tab: YAML indents with spaces, not tabs (replace it with spaces)"]


def test_a_programme_file_named_in_capitals_is_read_and_one_saved_as_txt_is_named(tmp_path):
    """QA: `Promos.YAML` and Notepad's `promos.yaml.txt` were passed over with no word: their
    events vanished from the programme, and `check` said all was well."""
    (tmp_path / "Main.YAML").write_text("playlists:\n  music: {files: [a/]}\nfallback: music\n")
    (tmp_path / "promos.yaml.txt").write_text("events:\n  promo: {at: ':30', play: music}\n")
    programme = load_programme(tmp_path)
    assert list(programme.playlists) == ["music"] and programme.fallback == "music"
    assert [p.message for p in programme.notes] == ["promos.yaml.txt is not read: only .yaml and .yml files are (rename it promos.yaml)"]


def test_an_event_that_would_wait_longer_than_a_day_is_refused():
    """QA: `start: wait 99999999999999999999` was accepted ("waits up to 1e+20 s")."""
    events = (
        'events:\n  news: {at: "12:00", play: ids, start: "wait 99999999999999999999"}\n  ok: {at: "13:00", play: ids, start: wait 86400}\n'
    )
    assert problems(("p.yaml", PLAYLISTS + events)) == [
        "p.yaml:5:41: events.news.start: wait 99999999999999999999 s is longer than a day (86400 s): use start: soft"
    ]


def test_qa_dj_round_a_bad_date_a_block_starting_at_24_00_and_empty_keys_are_named():
    """QA: a date that does not exist crashed `check` with a traceback (and the playlist watcher
    on air); `start: "24:00"` with `days: fri` ran on Thursday night; `days:` and `end:` left
    empty were said as "unknown day None" and "not None"."""
    bad_date = PLAYLISTS + 'blocks:\n  xmas:\n    start: "10:00"\n    end: "12:00"\n    play: music\n    dates: {from: 2026-13-01}\n'
    assert problems(("w.yaml", bad_date)) == ["w.yaml:9:19: 2026-13-01 is not a date: month must be in 1..12"]
    assert problems(("w.yaml", bad_date.replace("2026-13-01", "2026-02-30"))) == [
        "w.yaml:9:19: 2026-02-30 is not a date: day is out of range for month"
    ]
    midnight = PLAYLISTS + 'blocks:\n  late: {days: fri, start: "24:00", end: "02:00", play: music}\n'
    assert problems(("w.yaml", midnight)) == [
        'w.yaml:5:28: blocks.late.start "24:00" would start at the beginning of its day, not the end: write "00:00" and the next day'
    ]
    empty = PLAYLISTS + 'blocks:\n  b:\n    days:\n    start: "10:00"\n    end:\n    play: music\n'
    programme, found = Programme(), list[Problem]()
    parse_programme_file(empty, Path("w.yaml"), programme, found)
    assert [str(p) for p in found] == ['w.yaml:8:9: blocks.b.end is missing or empty: give a clock time like "06:00"']
    assert [str(n) for n in programme.notes] == [
        "w.yaml:6:10: blocks.b.days is empty, so its default ('daily') is used: give a value or delete the line"
    ]


def test_a_misspelt_jingle_interval_is_missing_not_empty():
    """QA: `evry: 4 songs` was said as 'every … it is empty' beside the did-you-mean."""
    week = "blocks:\n  base: {start: '00:00', end: '24:00', play: music, jingles: {play: ids, evry: 4 songs}}\n"
    found: list[Problem] = []
    parse_programme_file(PLAYLISTS + "fallback: music\n" + week, Path("week.yaml"), Programme(), found)
    assert found[0].message == "blocks.base.jingles.every must be like '4 songs' or '15 min'; it is missing"
    assert "did you mean 'every'?" in found[1].message
