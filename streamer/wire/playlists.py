"""Playlist files: what a player downloads to find a stream (pure)."""

from __future__ import annotations

import html


def m3u(url: str) -> str:
    return url + "\r\n"


def pls(url: str, title: str) -> str:
    return f"[playlist]\r\nNumberOfEntries=1\r\nFile1={url}\r\nTitle1={title}\r\nLength1=-1\r\nVersion=2\r\n"


def xspf(url: str, title: str, creator: str = "") -> str:
    e = html.escape
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<playlist version="1" xmlns="http://xspf.org/ns/0/">\n'
        f"  <title>{e(title)}</title>\n"
        + (f"  <creator>{e(creator)}</creator>\n" if creator else "")
        + f"  <trackList>\n    <track>\n      <location>{e(url)}</location>\n"
        f"      <title>{e(title)}</title>\n    </track>\n  </trackList>\n</playlist>\n"
    )
