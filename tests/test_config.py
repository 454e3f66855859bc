from pathlib import Path

import pytest

from streamer.config import is_loopback, parse_config
from streamer.wire.icecast import icestats
from streamer.yamldoc import ConfigError

F = Path("/etc/streamer/config.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, F, env={})
    return [str(p) for p in exc.value.problems]


def test_defaults():
    c = parse_config("", F, env={})
    assert [m.path for m in c.mounts] == ["/main"]
    assert c.users["source"].password == "hackme"
    assert c.public_passwords() == ["source", "admin", "relay"]
    assert c.playlists_dir == Path("/etc/streamer/playlists")


def test_every_problem_named_with_file_line_and_field():
    got = problems("server:\n  port: eighty\n  hots: 0.0.0.0\nmounts:\n  /main:\n    bitrate: 100\n  nope: {}\n")
    assert got[0] == "/etc/streamer/config.yaml:2:9: server.port must be a whole number, not text 'eighty'"
    assert got[1].startswith("/etc/streamer/config.yaml:3:3: unknown key 'server.hots' (did you mean 'host'?)")
    assert got[2].startswith("/etc/streamer/config.yaml:6:14: mounts./main.bitrate: must be one of 32, 40")
    assert got[3].startswith("/etc/streamer/config.yaml:7:3: mounts.nope: a mount path looks like /main")


def test_yaml_syntax_error_has_position():
    got = problems("server:\n  port: [8000\n")
    assert got[0].startswith(
        "/etc/streamer/config.yaml:2:9: YAML syntax: this '[' is not closed with ']' (YAML read on to line 3, column 1"
    )
    got = problems("server: {port: 8000 host: x}\n")  # on its own line, where YAML stops is the place
    assert got[0] == "/etc/streamer/config.yaml:1:25: YAML syntax: did not find expected ',' or '}'"


def test_a_brace_left_open_is_named_at_its_line_not_the_next():
    """QA: `music: {files: [...], order: shuffle` without its `}` was reported on the next line
    (where YAML gave up), a line with nothing wrong on it."""
    got = problems("mounts:\n  /main: {bitrate: 128, sample_rate: 44100\n  /low: {bitrate: 48}\n")
    assert got == [
        "/etc/streamer/config.yaml:2:10: YAML syntax: this '{' is not closed with '}'"
        " (YAML read on to line 3, column 7: did not find expected ',' or '}')"
    ]


def test_passwords_from_environment():
    c = parse_config("users:\n  admin: {password: hackme}\n", F, env={"STREAMER_ADMIN_PASSWORD": "s3cret-Long"})
    assert c.users["admin"].password == "s3cret-Long"
    assert c.public_passwords() == ["source", "relay"]


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.org")


def _status(mounts):
    return {"version": "1", "started": 0.0, "mounts": mounts}


def _mount(path):
    return dict(
        mount=path,
        name="N",
        description="D",
        genre="G",
        url="U",
        sample_rate=44100,
        bitrate=128,
        channels=2,
        listener_peak=3,
        listeners=1,
        format="audio/mpeg",
        title="T",
        stream_start=None,
    )


def test_icestats_quirk_object_list_absent():
    c = parse_config("mounts:\n  /a: {}\n  /b: {}\n", F, env={})
    one = icestats(_status([_mount("/a")]), c.station_description, "http://h:1")["icestats"]
    assert isinstance(one["source"], dict) and one["source"]["listenurl"] == "http://h:1/a"
    two = icestats(_status([_mount("/a"), _mount("/b")]), c.station_description, "http://h:1")["icestats"]
    assert isinstance(two["source"], list) and len(two["source"]) == 2
    assert "source" not in icestats(_status([]), c.station_description, "http://h:1")["icestats"]
    assert one["server_start_iso8601"] == "1970-01-01T00:00:00+0000"
    # ?mount=/b: that mount's source alone, an object, as Icecast 2.4 answers (QA: every mount, as a list)
    only = icestats(_status([_mount("/a"), _mount("/b")]), c.station_description, "http://h:1", "/b")["icestats"]
    assert only["source"]["listenurl"] == "http://h:1/b"
    assert "source" not in icestats(_status([_mount("/a")]), c.station_description, "http://h:1", "")["icestats"]  # unknown


def test_a_key_written_twice_is_an_error_at_the_second():
    got = problems("server:\n  port: 8000\n  host: 127.0.0.1\n  port: 8001\nmounts:\n  /main: {}\n  /main: {bitrate: 64}\n")
    assert got == [
        "/etc/streamer/config.yaml:4:3: server.port is defined twice (first at line 2)",
        "/etc/streamer/config.yaml:7:3: mounts./main is defined twice (first at line 6)",
    ]


def test_a_health_port_is_its_own_port():
    assert parse_config("server:\n  health_port: 8001\n", F, env={}).health_port == 8001
    assert parse_config("", F, env={}).health_port is None
    got = problems("server:\n  port: 8000\n  health_port: 8000\n")
    assert got == ["/etc/streamer/config.yaml:3:16: server.health_port must be a port of its own, not server.port (8000)"]
    assert problems("server:\n  health_port: 70000\n")[0].startswith("/etc/streamer/config.yaml:2:16: server.health_port: must be")


def test_an_empty_value_takes_its_default_with_a_note_naming_where():
    c = parse_config("server:\n  max_listeners:\n  health_port:\n", F, env={})
    assert c.max_listeners == 20000
    # An empty optional field (no default) is just absent; an empty one with a default is told.
    assert c.notes == (
        "/etc/streamer/config.yaml:2:17: server.max_listeners is empty, so its default (20000) is used: give a value or delete the line",
    )
    assert parse_config("server:\n  max_listeners: 300\n", F, env={}).notes == ()


def test_a_fallback_mount_brings_its_listeners_back_unless_told_not_to():
    mounts = "mounts:\n  /main: {}\n  /dj: {source: true, fallback: /main}\n"
    mounts += "  /world: {source: true, fallback: /main, fallback_override: false}\n"
    c = parse_config(mounts, F, env={})
    assert [(m.path, m.fallback_override) for m in c.mounts] == [("/main", True), ("/dj", True), ("/world", False)]
    wrong = problems(mounts.replace("false}", "maybe}"))[0]
    assert wrong.endswith("mounts./world.fallback_override must be true or false, not text 'maybe'")


def test_public_url_is_a_base_for_links():
    """QA: `public_url: 127.0.0.1:8744` (no scheme) passed, and every link became 127.0.0.1:8744/main."""
    got = problems("server:\n  public_url: 127.0.0.1:8744\n")
    assert got == [
        "/etc/streamer/config.yaml:2:15: server.public_url: must be an http:// or https:// address such as"
        " https://radio.example.org, not '127.0.0.1:8744'"
    ]
    assert (
        "the port in 'https://radio.example.org:port' is not a number"
        in problems("server: {public_url: 'https://radio.example.org:port'}")[0]
    )
    assert "no ?query or #fragment" in problems("server: {public_url: 'https://radio.example.org/#top'}")[0]
    assert parse_config("server: {public_url: 'https://radio.example.org/'}", F, env={}).public_url == "https://radio.example.org"


def test_the_station_url_defaults_to_the_public_url():
    """QA: the shipped `station.url: http://localhost:8000/` reached every listener of a deployed
    station as icy-url; without one, the public URL (the station's own page) is the link."""
    c = parse_config("server: {public_url: 'https://radio.example.org'}\n", F, env={})
    assert c.station_url == "https://radio.example.org" and c.mounts[0].url == "https://radio.example.org"
    c = parse_config("station: {url: 'https://news.example.org/'}\nserver: {public_url: 'https://radio.example.org'}\n", F, env={})
    assert c.station_url == "https://news.example.org/" and c.mounts[0].url == "https://news.example.org/"
    assert parse_config("", F, env={}).mounts[0].url == ""


def test_a_range_is_said_in_plain_numbers():
    """QA: `server.max_listeners: must be between 1 and 1e+06`."""
    got = problems("server:\n  max_listeners: 0\n")
    assert got == ["/etc/streamer/config.yaml:2:18: server.max_listeners: must be between 1 and 1000000, not 0"], got
