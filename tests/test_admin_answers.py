"""Icecast's admin API answers that name what is wrong, and credentials of another kind that
are refused without counting as a guessed password (the web handlers on a plain port)."""

from __future__ import annotations

import base64

from streamer.sources import logins
from streamer.stream.listener import move_conflict
from streamer.web import admin

from .test_cores import ADMIN, PlainStation, call

RELAY = {"Authorization": "Basic " + base64.b64encode(b"relay:relay-pw").decode()}
WRONG = {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}


def test_killclient_without_an_id_says_the_id_is_missing(tmp_path):
    station = PlainStation(tmp_path)
    for path in ("/admin/killclient?mount=/main", "/admin/killclient?mount=/main&id="):
        answer = call(station, admin.killclient, "GET", path, ADMIN)
        assert answer.status == 400 and "Missing parameter: id=" in answer.text, answer.text
    unknown = call(station, admin.killclient, "GET", "/admin/killclient?mount=/main&id=42", ADMIN)
    assert unknown.status == 400 and "Client 42 not found" in unknown.text


def test_moveclients_onto_the_same_mount_says_so(tmp_path):
    station = PlainStation(tmp_path)
    same = call(station, admin.moveclients, "GET", "/admin/moveclients?mount=/main&destination=/main", ADMIN)
    assert same.status == 400 and "/main is the mount itself" in same.text, same.text
    missing = call(station, admin.moveclients, "GET", "/admin/moveclients?mount=/main", ADMIN)
    assert missing.status == 400 and "Missing parameter: destination=" in missing.text, missing.text
    nowhere = call(station, admin.moveclients, "GET", "/admin/moveclients?mount=/main&destination=/nope", ADMIN)
    assert nowhere.status == 400 and "No such destination: /nope" in nowhere.text, nowhere.text


def test_good_credentials_of_another_kind_are_refused_but_not_counted_as_guesses(tmp_path, monkeypatch):
    """The relay user on listclients: 401 as before, but no step toward the lockout (10 failed
    logins a minute), so a misconfigured monitor cannot lock the operator out. (The growing
    delay of failed logins is tested in test_hostile_input; held to 10 ms here, it would cost
    this test 5.8 s of waiting and nothing else.)"""
    monkeypatch.setattr(logins, "MAX_DELAY", 0.01)
    station = PlainStation(tmp_path)
    for _ in range(10):
        assert call(station, admin.listclients, "GET", "/admin/listclients?mount=/main", RELAY).status == 401
    assert call(station, admin.listclients, "GET", "/admin/listclients?mount=/main", ADMIN).status == 200
    for _ in range(10):  # a wrong password still counts, and locks out at ten
        assert call(station, admin.listclients, "GET", "/admin/listclients?mount=/main", WRONG).status == 401
    locked = call(station, admin.listclients, "GET", "/admin/listclients?mount=/main", ADMIN)
    assert locked.status == 429 and 0 < int(locked.headers["Retry-After"]) <= 60  # when to come back (QA: not said)


def test_a_move_needs_the_same_format_and_room_for_everyone():
    """moveclients and a source's fallback use this (plain values)."""
    assert move_conflict("/main", "/low", "audio/mpeg", "audio/mpeg", 2, 2) == ""
    assert move_conflict("/main", "/low", "audio/mpeg", "audio/mpeg", 0, 0) == ""
    full = "/low has room for {} more listener(s) (its max_listeners), {} would move"
    assert move_conflict("/main", "/low", "audio/mpeg", "audio/mpeg", 3, 2) == full.format(2, 3)
    assert move_conflict("/main", "/low", "audio/mpeg", "audio/mpeg", 1, -4) == full.format(0, 1)
    wrong = move_conflict("/main", "/opus", "audio/mpeg", "application/ogg", 1, 10)
    assert wrong == "/opus carries application/ogg, /main audio/mpeg: the players listening to /main could not decode it"
    assert move_conflict("/relay", "/aac", "audio/aacp", "audio/AAC; charset=x", 1, 1) == ""  # one format, two names
    assert move_conflict("/a", "/b", "audio/x-odd", "audio/x-odd", 1, 1) == ""
    assert move_conflict("/a", "/b", "audio/x-odd", "audio/x-other", 1, 1).startswith("/b carries audio/x-other")
