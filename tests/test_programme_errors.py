"""Programme files as DJs mistype them: each mistake is named with FILE:LINE:COLUMN and the
field, and what is wrong (pure: YAML text in, problems out)."""

from pathlib import Path

from streamer.schedule.programme import Programme, parse_programme_file
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
        "week-backup.yaml:2:3: block 'daytime' is already defined at week.yaml:2:3",
        "week-backup.yaml:4:3: event 'toh' is already defined at week.yaml:4:3",
    ]


def test_a_playlist_in_two_files_names_the_first_without_a_trailing_colon():
    got = problems(("a.yaml", PLAYLISTS), ("b.yaml", "playlists:\n  talk: {files: [t/]}\n  ids: {files: [j/]}\n"))
    assert got == ["b.yaml:3:3: playlist 'ids' is already defined at a.yaml:3:3"]
