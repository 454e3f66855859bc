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
