"""HLS in a web player: hls.js (from the npm registry, fetched here, not shipped) in headless
Chromium plays the master playlist and reports the titles the timed ID3 carries; the time from
a title reaching an Icecast listener to the same title playing in hls.js is measured, for plain
HLS and for low-latency HLS (partial segments, blocking reloads)."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import shutil
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import make_tone, record

pytestmark = pytest.mark.interop

CACHE = Path.home() / ".cache" / "streamer-tests"
SEGMENT = 2.0
HLSJS = "1.5.20"
PAGE = """<!doctype html><meta charset=utf-8><link rel=icon href="data:,">
<audio id=a muted></audio><script src="hls.min.js"></script>
<script>
window.seen = []; window.errors = []; window.joined = null;
const a = document.getElementById("a");
a.textTracks.onaddtrack = (e) => {
  const track = e.track; track.mode = "hidden";
  // what a player shows: the title of the active cue that started last (after a variant switch
  // hls.js may hold the same stretch's cues from both variants for a moment)
  track.oncuechange = () => { let shown = null; for (const cue of track.activeCues) {
    if (cue.value && cue.value.key === "TIT2" && (!shown || cue.startTime >= shown.startTime)) shown = cue; }
    if (shown) window.seen.push([Date.now() / 1000, shown.value.data, a.currentTime]); };
};
function go(url) {
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.errors.push(d.type + " " + d.details); });
  hls.loadSource(url); hls.attachMedia(a);
  // when the first playlist arrived, and when the end of its newest segment aired
  hls.on(Hls.Events.LEVEL_LOADED, (_, d) => { const f = d.details.fragments.at(-1);
    if (window.joined === null) window.joined = [Date.now() / 1000, (f.programDateTime + f.duration * 1000) / 1000]; });
  hls.on(Hls.Events.MANIFEST_PARSED, () => a.play());
}
</script>"""


@pytest.fixture(scope="module")
def hlsjs() -> Path:
    """hls.js's minified build, a pinned release from the npm registry, checked against the
    registry's integrity hash and cached between runs."""
    target = CACHE / f"hls.js-{HLSJS}" / "hls.min.js"
    if not target.exists():
        meta = json.load(urllib.request.urlopen(f"https://registry.npmjs.org/hls.js/{HLSJS}", timeout=60))
        tarball = urllib.request.urlopen(meta["dist"]["tarball"], timeout=120).read()
        algorithm, digest = meta["dist"]["integrity"].split("-", 1)
        assert base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode() == digest, "hls.js tarball corrupted"
        with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
            script = tar.extractfile("package/dist/hls.min.js")
            assert script is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(script.read())
    return target


@pytest.mark.parametrize(("container", "parts"), [("ts", 0.0), ("fmp4", 0.0), ("ts", 0.5)])
def test_hls_js_plays_the_master_playlist_and_shows_the_titles(server_factory, chromium, second_origin, hlsjs, tmp_path, container, parts):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    for i, freq in enumerate((330, 550, 770), 1):
        make_tone(tracks / f"t{i}.ogg", freq, 5.0, 44100, 2, ("-c:a", "libvorbis"), f"Artist{i}", f"Song{i}")
    playlist = f"timezone: UTC\nplaylists:\n  t: {{files: ['{tracks}/'], order: sequential}}\nfallback: t\n"
    variants = "  variants:\n    - {name: lo, bitrate: 48}\n    - {name: hi, bitrate: 96}\n"
    hls = f"hls:\n  segment: {SEGMENT:g}\n  parts: {parts:g}\n  container: {container}\n{variants}"
    server = server_factory(playlist, config_extra=hls)
    # A listener joins a stream that is on air, whose playlists hold 3 segments or more: a
    # player starts 3 target durations from the end (RFC 8216 6.3.3; hls.js does), which a
    # playlist of one or two segments cannot give it (it would play at the very edge, with no
    # buffer: the latency measured would be unlike any real listener's, and every late segment
    # a stall).
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and min(server.get(f"/hls/{v}/live.m3u8")[2].count(b"#EXTINF") for v in ("lo", "hi")) < 3:
        time.sleep(0.2)
    site, origin = second_origin
    (site / "page.html").write_text(PAGE)
    shutil.copy(hlsjs, site / "hls.min.js")
    got: dict = {}
    done = threading.Event()  # the Icecast listener hears until hls.js has played (every title it shows aired before)
    icy = threading.Thread(target=lambda: got.update(rec=record(server.port, "/main", 30.0, stop=done)))
    icy.start()
    page = chromium.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{origin}/page.html")
    page.evaluate(f"go('{server.url('/hls/live.m3u8')}')")
    page.wait_for_function("document.getElementById('a').currentTime > 0", timeout=20000)
    start = page.evaluate("document.getElementById('a').currentTime")
    page.wait_for_function(f"document.getElementById('a').currentTime > {start + 5}", timeout=12000)  # 5 s played
    played = page.evaluate("document.getElementById('a').currentTime") - start
    changed_thrice = (
        "(() => { const s = window.seen, t = new Set();"
        " for (let i = 1; i < s.length; i++) if (s[i][1] !== s[i - 1][1]) t.add(s[i][1]); return t.size >= 3; })()"
    )
    page.wait_for_function(changed_thrice, timeout=30000)  # a change to each of the 3 titles shown (5 s tracks)
    seen = page.evaluate("window.seen")
    done.set()
    icy.join()
    errors, joined = page.evaluate("window.errors"), page.evaluate("window.joined")
    page.close()
    assert errors == [] and console == [], (errors, console)
    assert played > 4.0
    arrivals = [(when, fields["StreamTitle"]) for when, fields in got["rec"].block_arrivals]
    heard = [(when, title) for (_, before), (when, title) in itertools.pairwise([(0, ""), *arrivals]) if title != before]
    changes = [(when, title) for (_, before, _), (when, title, _) in itertools.pairwise(seen) if title != before]
    assert len({title for _, title in changes}) >= 2, seen
    # each change in hls.js against the same change at the Icecast listener (the latest one before it)
    lags = [when - max(t for t, name in heard if name == title and t <= when) for when, title in changes if any(
        name == title and t <= when for t, name in heard)]  # fmt: skip
    figures = ", ".join(f"{x:.1f}" for x in lags)
    kind = f"{container}, {parts:g} s parts" if parts else container
    if parts:
        print(f"{kind}: hls.js air-to-ear latency (title in hls.js minus title at an Icecast listener): {figures} s")
        assert lags and max(lags) <= 3 * SEGMENT + 1.0, lags  # at most 3 segment durations (the goal), + a second
        return
    # Plain HLS: hls.js starts 3 target durations behind the end of the first playlist it loads,
    # and cannot know how long ago that end aired (up to a segment: its "age" counts from the
    # download). The station answers for what it adds, a second at most; the age is measured.
    age = joined[0] - joined[1]
    print(f"{kind}: hls.js air-to-ear latency: {figures} s (the playlist it joined on was {age:.1f} s old)")
    assert -0.5 < age < SEGMENT + 0.5, joined
    assert lags and max(lags) <= 3 * SEGMENT + max(age, 0) + 1.0, (lags, age)
