"""Real icecast2 as a peer: a slave relaying every mount via streamlist.txt."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from .conftest import free_port, make_tone, need, record

pytestmark = pytest.mark.interop

SLAVE = """<icecast>
  <limits><clients>50</clients><sources>10</sources><source-timeout>10</source-timeout></limits>
  <authentication><source-password>slave-src-pw</source-password><relay-password>slave-relay-pw</relay-password>
    <admin-user>admin</admin-user><admin-password>slave-admin-pw</admin-password></authentication>
  <master-server>127.0.0.1</master-server><master-server-port>{master}</master-server-port>
  <master-update-interval>1</master-update-interval><master-username>relay</master-username>
  <master-password>test-relay-pw</master-password><relays-on-demand>0</relays-on-demand>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{log}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""


@pytest.fixture
def icecast_dir():
    """A folder icecast2 can use after dropping root for nobody (pytest's tmp is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="streamer-icecast-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start_icecast(folder: Path, xml: str) -> subprocess.Popen:
    icecast = need("icecast2")
    conf = folder / "icecast.xml"
    conf.write_text(xml.replace("{log}", str(folder)))
    conf.chmod(0o644)
    return subprocess.Popen([icecast, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_icecast2_slave_relays_every_mount_with_titles(server_factory, tmp_path, icecast_dir):
    music = tmp_path / "music"
    music.mkdir()
    make_tone(music / "a.mp3", 440, 20.0, 44100, 2, ("-c:a", "libmp3lame"), "Slave Test", "Relayed Song")
    playlist = f"playlists:\n  music: {{files: ['{music}']}}\nfallback: music\n"
    server = server_factory(playlist, config_extra="users:\n  relay: {password: test-relay-pw}\n")
    port = free_port()
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.geteuid() == 0 else ""
    slave = start_icecast(icecast_dir, SLAVE.replace("{master}", str(server.port)).replace("{port}", str(port)).replace("{owner}", owner))
    try:
        deadline = time.monotonic() + 30
        mounts: list[str] = []
        while time.monotonic() < deadline and len(mounts) < 2:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status-json.xsl", timeout=2) as r:
                    source = json.loads(r.read().decode("utf-8", "replace"))["icestats"].get("source", [])
            except (OSError, ValueError):
                continue
            sources = source if isinstance(source, list) else [source]
            mounts = sorted(s["listenurl"].rsplit("/", 1)[-1] for s in sources)
        assert mounts == ["low", "main"], (icecast_dir / "error.log").read_text(errors="replace")[-3000:]
        rec = record(port, "/main", 4.0)
        assert len(rec.audio) > 16000 * 2
        assert "Slave Test - Relayed Song" in [f["StreamTitle"] for _, f in rec.blocks]
        # /admin/stats in icecast2's element names (QA: tools reading <sources>, <clients> or
        # total_bytes_sent found them missing): every one the slave gives, but for its own kinds.
        theirs, ours = admin_stats(port, "admin:slave-admin-pw"), admin_stats(server.port, "admin:hackme")
        only_icecast = {"file_connections", "banned_IPs", "build"}  # its web root, its ban list, its build number
        assert theirs[0] - only_icecast <= ours[0], sorted(theirs[0] - ours[0])
        relay_only = {"source_ip", "user_agent"}  # a relay's or a source client's: not the station's own mounts
        assert theirs[1] - relay_only <= ours[1], sorted(theirs[1] - ours[1])
    finally:
        slave.terminate()
        slave.wait(10)


def admin_stats(port: int, user: str) -> tuple[set[str], set[str]]:
    """The element names of /admin/stats: (top level, every source's)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/stats")
    request.add_header("Authorization", "Basic " + base64.b64encode(user.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as r:
        root = ElementTree.fromstring(r.read())
    sources = root.findall("source")
    return {e.tag for e in root if e.tag != "source"}, {e.tag for s in sources for e in s}


STANDALONE = """<icecast>
  <limits><clients>50</clients><sources>10</sources><source-timeout>10</source-timeout><burst-size>65536</burst-size></limits>
  <authentication><source-password>push-src-pw</source-password><relay-password>push-relay-pw</relay-password>
    <admin-user>admin</admin-user><admin-password>push-admin-pw</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{log}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""


def test_a_mount_pushed_to_a_real_icecast2_plays_there_with_its_titles(server_factory, tmp_path, icecast_dir):
    music = tmp_path / "music"
    music.mkdir()
    make_tone(music / "a.mp3", 440, 20.0, 44100, 2, ("-c:a", "libmp3lame"), "Push Test", "Pushed Song")
    port = free_port()
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.geteuid() == 0 else ""
    ice = start_icecast(icecast_dir, STANDALONE.replace("{port}", str(port)).replace("{owner}", owner))
    try:
        time.sleep(1.0)
        playlist = f"playlists:\n  music: {{files: ['{music}']}}\nfallback: music\n"
        extra = f"push:\n  - {{mount: /main, url: 'icecast://source:push-src-pw@127.0.0.1:{port}/pushed'}}\n"
        server = server_factory(playlist, config_extra=extra)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not server.status()["push"][0]["connected"]:
            time.sleep(0.3)
        assert server.status()["push"][0]["connected"], server.log_text()
        time.sleep(1.5)
        rec = record(port, "/pushed", 4.0)
        assert len(rec.audio) > 16000 * 2
        assert "Push Test - Pushed Song" in [f["StreamTitle"] for _, f in rec.blocks], rec.blocks
        # icecast2 goes away and comes back: the push reconnects by itself.
        ice.terminate()
        ice.wait(10)
        ice = start_icecast(icecast_dir, STANDALONE.replace("{port}", str(port)).replace("{owner}", owner))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.status()["push"][0]["connects"] < 2:
            time.sleep(0.5)
        assert server.status()["push"][0]["connects"] >= 2, server.log_text()
    finally:
        ice.terminate()
        ice.wait(10)
