"""Web players on another origin, in a real browser (headless Chromium through Playwright):
what every station website does with the stream and the metadata API."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import make_tone

pytestmark = pytest.mark.interop

USERS = "users:\n  source: {password: test-source-pw}\n  admin: {password: test-admin-pw}\n"

PLAYER = """<!doctype html><meta charset=utf-8><link rel=icon href="data:,">
<audio id=player crossorigin=anonymous preload=none></audio>
<script>
window.result = {};
async function go(base) {
  const np = await (await fetch(base + "/api/nowplaying")).json();  // a kept-alive connection, then the stream
  window.result.title = np.mounts[0].title;
  const r = await fetch(base + "/main", {headers: {"Icy-MetaData": "1"}});  // a preflighted request
  window.result.metaint = r.headers.get("icy-metaint");
  const reader = r.body.getReader();
  let got = 0;
  while (got < 20000) { const {value, done} = await reader.read(); if (done) break; got += value.length; }
  reader.cancel();
  window.result.fetched = got;
  const a = document.getElementById("player");
  a.src = base + "/main";
  a.muted = true;
  await a.play();
  window.result.playing = true;
}
</script>"""


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    d = tmp_path_factory.mktemp("music")
    make_tone(d / "song.ogg", 440, 30.0, 44100, 2, ("-c:a", "libvorbis"), "Band", "Song")
    return d


def test_a_page_on_another_origin_reads_the_api_then_plays_the_stream(server_factory, music, chromium, second_origin):
    server = server_factory(f"playlists:\n  m: {{files: ['{music / 'song.ogg'}']}}\nfallback: m\n", config_extra=USERS)
    site, origin = second_origin
    (site / "player.html").write_text(PLAYER)
    page = chromium.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{origin}/player.html")
    page.evaluate(f"go('http://127.0.0.1:{server.port}')")
    page.wait_for_function("window.result.playing === true", timeout=15000)
    start = page.evaluate("document.getElementById('player').currentTime")
    time.sleep(3)
    played = page.evaluate("document.getElementById('player').currentTime") - start
    result = page.evaluate("window.result")
    page.close()
    assert errors == []
    assert result["title"] == "Band - Song" and result["metaint"] == "16000" and result["fetched"] >= 20000
    assert played > 2.0


FORM = """<!doctype html><meta charset=utf-8>
<form id=f method=POST action="{base}/api/news" enctype="text/plain">
<input name='{{"title": "Forged headline", "x": "' value='"}}'></form>
<img id=img src="{base}/admin/killsource?mount=/main">
<script>document.getElementById("f").submit();</script>"""


def test_a_cross_site_form_cannot_use_the_browsers_cached_credentials(server_factory, music, chromium, second_origin):
    server = server_factory(f"playlists:\n  m: {{files: ['{music / 'song.ogg'}']}}\nfallback: m\n", config_extra=USERS)
    site, origin = second_origin
    base = f"http://127.0.0.1:{server.port}"
    (site / "form.html").write_text(FORM.format(base=base))
    context = chromium.new_context(http_credentials={"username": "admin", "password": "test-admin-pw"})
    page = context.new_page()
    page.goto(f"{base}/api/news")  # the browser has used the station with the admin's credentials
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/api/news" in r.url and r.request.method == "POST" else None)
    page.goto(f"{origin}/form.html")
    page.wait_for_load_state("networkidle")
    context.close()
    assert answers and all(a == 403 for a in answers), answers
    headlines = json.loads(server.get("/api/news")[2])["headlines"]
    assert not any(h["title"] == "Forged headline" for h in headlines)
    assert "cross-site request refused" in server.log_text() or server.status()["mounts"][0]["on_air"]
