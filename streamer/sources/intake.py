"""Source clients at the door: who may feed which mount, the pass-through mounts they make,
and what happens when they leave.

The answers are Icecast's (icecast-wire.md): 401 with a realm for missing or wrong
credentials (held back and, past a few, refused per address: failed logins are logged),
403 for a busy mount, one of the station's own, a reserved path or a block reserved for
another DJ, 403 for a missing Content-Type; then `200 OK` and the connection becomes a
SourceConnection. A mount that only a source made goes when the source does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import replace

from ..aio import background
from ..audio.feeder import Feeder
from ..limits import cap_socket_buffer
from ..settings import Config, MountConfig, mount_path_problem
from ..stream.frontdoor import Reply, http_date
from ..stream.listener import Listener, Unheard, answer_waiting, move_conflict, room_on, same_format
from ..stream.mount import MAX_PENDING_SECONDS, Mount
from ..supervise import Supervisor
from ..wire.credentials import basic_user, check_basic
from ..wire.formats import format_of
from ..wire.http import RequestHead, error_response, lockout, source_ok
from ..wire.icecast import parse_audio_info
from ..wire.icy import clean_title
from ..wire.text import decode_text
from .connection import SourceConnection, held_by
from .ingest import LEARNED
from .logins import LoginGuard
from .takeover import take_over

IN_USE = "Mountpoint in use"  # Icecast's words for a mount that has its source

log = logging.getLogger("streamer.source")

SOURCE_RECEIVE_BUFFER = 16384  # bytes the kernel holds for a source we are not reading (doubled by Linux)
REALM = [("WWW-Authenticate", 'Basic realm="Icecast2 Server"')]


def _int(text: str | None) -> int:
    return int(text) if text and text.strip().isdigit() else 0


class SourceDesk:
    def __init__(
        self,
        config: Config,
        mounts: dict[str, Mount],
        supervisor: Supervisor,
        feeder: Feeder,
        ffmpeg: str,  # for a DJ's decoder (audio/ffmpeg.py: the one that starts quickest)
        on_title: Callable[[str, str], None],
    ) -> None:
        self.config = config
        self.mounts = mounts  # the station's mount registry, shared
        self.supervisor = supervisor
        self.feeder = feeder
        self.ffmpeg = ffmpeg
        self.on_title = on_title
        self.on_change: Callable[[], None] = lambda: None  # told when a mount gains or loses its source
        self.logins = LoginGuard()
        self.connects = 0  # source clients that connected since the start
        self.on_listeners: Callable[[Mount, Listener, bool], None] = lambda mount, listener, joined: None  # the station's history
        self.declared = {m.path for m in config.mounts} | {path for path, _ in config.relays}

    # --- the door ------------------------------------------------------------------------------------

    def accept(self, head: RequestHead, transport: asyncio.Transport, body: bytes, address: str) -> Reply | None:
        """A SOURCE or PUT request: a refusal to send back, or None once the connection is a source."""
        now = time.monotonic()
        locked = self.logins.locked(address, now)
        if locked:
            message, wait = lockout(address, locked)  # (the web side's 429 has the same words)
            return Reply(error_response(429, message, http_date(), [("Retry-After", wait)]))
        authorization = head.header("authorization")
        who, refusal = self.allowed(head.path, authorization)
        if who is None:
            delay = 0.0
            if authorization:  # libshout asks without credentials first: that is no failure
                delay, count = self.logins.failed(address, now)
                user = basic_user(authorization)
                log.warning(
                    "%s: source login as %r from %s refused: wrong user or password (%d failed in the last minute)",
                    head.path[:100], user, address, count,
                )  # fmt: skip
            return Reply(error_response(401, "You need to authenticate", http_date(), REALM), delay)
        self.logins.succeeded(address)
        content_type = head.header("content-type").split(";")[0].strip().lower()
        refusal = refusal or self.refused(head.path, content_type)
        if refusal == IN_USE and self._reserved_dj_arrives(head.path, who):
            refusal = ""
        elif refusal == IN_USE:
            refusal = f"{IN_USE} ({held_by(self.mounts[head.path].source)})"
        if refusal:  # logged too: a DJ's "403" is the operator's question next
            log.warning("%s: source login as %r from %s refused: %s", head.path[:100], who, address, refusal)
            return Reply(error_response(403, refusal, http_date()))
        self._connect(head, transport, body, address, content_type, who)
        return None

    def _connect(self, head: RequestHead, transport: asyncio.Transport, body: bytes, address: str, content_type: str, who: str) -> None:
        cap_socket_buffer(transport, socket.SO_RCVBUF, SOURCE_RECEIVE_BUFFER)  # a source we stop reading feels it in seconds
        mount = self.passthrough_mount(head.path, content_type, head.headers)
        if head.method == "PUT" and head.header("expect").lower() == "100-continue":
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        transport.write(source_ok())
        chunked = "chunked" in head.header("transfer-encoding").lower()
        metaint = int(head.header("icy-metaint")) if head.header("icy-metaint").isdigit() else 0
        length = int(head.header("content-length")) if head.method == "PUT" and head.header("content-length").isdigit() else 0
        source = SourceConnection(mount, transport, address, chunked, self.config.source_timeout, min(metaint, 1 << 20), length or None)
        source.user, source.agent = who, head.header("user-agent")[:100]
        mount.source = source
        self.connects += 1
        transport.set_protocol(source)
        agent = head.header("user-agent")[:100] or "no user agent"
        log.info("%s: source connected from %s (%s, %s)", head.path, address, content_type, agent)
        if head.path == self.config.live_mount:
            take_over(self.feeder, source, clean_title(head.header("ice-name"))[:200] or who, self.ffmpeg, self.config)
        if body:
            source.data_received(body)
        self.on_change()

    # --- who may feed what -----------------------------------------------------------------------------

    def allowed(self, path: str, authorization: str) -> tuple[str | None, str]:
        """(who, "") for good source credentials; (None, "") for bad ones (401); (who, why) when
        the credentials are good but not for this mount or slot now (403)."""
        who = self.user(path, authorization)
        live = self.config.live_mount
        if who is None and path != live:  # a DJ on a mistyped mount: say where DJs stream, not "who are you?"
            dj = next((user for user, password in self.config.djs if check_basic(authorization, user, password)), None)
            return dj, f"DJ accounts stream to {live} only, not {path[:100]}" if dj else ""
        if who is None or path != live or self.feeder.scheduler is None:
            return who, ""
        block = self.feeder.scheduler.block_at(time.time())
        if block is not None and block.live_djs and who not in block.live_djs:
            return who, f"{block.name} is reserved for {', '.join(block.live_djs)}"
        return who, ""

    def user(self, path: str, authorization: str) -> str | None:
        """The user whose source credentials for `path` the Authorization header carries, if any:
        the mount's own users where it has them, else `source` (and the DJs on the live mount)."""
        config = self.config
        mount = config.mount(path)
        if mount is not None and mount.users:
            accounts = list(mount.users)
        else:
            source = config.users["source"]
            accounts = [(source.name, source.password)]
            if path == config.live_mount:
                accounts += list(config.djs)
        return next((user for user, password in accounts if check_basic(authorization, user, password)), None)

    def refused(self, path: str, content_type: str) -> str:
        """Why a source with good credentials may not feed `path` (Icecast's 403s), or ""."""
        if not content_type:
            return "No Content-type given"
        problem = mount_path_problem(path) if path not in self.declared else None
        if problem:
            return f"{path[:100]!r} cannot be a mount: {problem}"
        mount = self.mounts.get(path)
        if mount is not None and not mount.passthrough:
            return f"Mountpoint in use ({path} is fed by the station's own encoder)"
        if mount is not None and mount.source is not None:
            return IN_USE
        return ""

    def _reserved_dj_arrives(self, path: str, who: str) -> bool:
        """The DJ a live slot is reserved for comes while another holds the live mount (one who
        connected before the slot began, or before the slot was written): that one goes off
        the air for them (QA: the reserved DJ got "Mountpoint in use" for a minute of their show)."""
        mount, scheduler = self.mounts.get(path), self.feeder.scheduler
        block = scheduler.block_at(time.time()) if scheduler is not None and path == self.config.live_mount else None
        holder = mount.source if mount is not None else None
        if block is None or who not in block.live_djs or not isinstance(holder, SourceConnection) or holder.user in block.live_djs:
            return False
        log.warning("live: %s is reserved for %s: %s goes off the air for %s", block.name, ", ".join(block.live_djs), holder.user, who)
        self.kill(mount)
        return True

    # --- pass-through mounts -------------------------------------------------------------------------

    def passthrough_mount(self, path: str, content_type: str, headers: dict[str, str]) -> Mount:
        """The mount a source (or relay) feeds: created on first use, described by its ice-* headers."""
        # heads are read as latin-1; a control character in a name (QA: ice-name "Evil\x01Name")
        # reached listeners' icy-name and the status documents: one line of plain text each
        headers = {k: clean_title(decode_text(v.encode("latin-1", errors="replace"))) for k, v in headers.items()}
        info = parse_audio_info(headers.get("ice-audio-info", ""))
        config = MountConfig(
            path=path,
            bitrate=info.get("bitrate") or _int(headers.get("ice-bitrate")),  # 0: unknown until the stream says
            sample_rate=info.get("samplerate", 0),
            channels=info.get("channels", 0),
            name=headers.get("ice-name", "")[:200],
            description=headers.get("ice-description", "")[:500],
            genre=headers.get("ice-genre", "")[:200],
            url=headers.get("ice-url", "")[:500],
            public=headers.get("ice-public", "0") == "1",
            source=True,
        )
        mount = self.mounts.get(path)
        if mount is None:
            mount = self.add_mount(config)
        else:
            declared = self.config.mount(path)
            kept = mount.config
            config = replace(config, fallback=kept.fallback, fallback_override=kept.fallback_override)
            config = replace(config, max_listeners=kept.max_listeners, metaint=kept.metaint)
            if declared is not None:
                config = replace(config, users=declared.users, queue_size=declared.queue_size, burst_size=declared.burst_size)
        if mount.listeners and not same_format(mount.info.content_type, content_type):  # their players cannot switch
            log.warning("%s: the new source sends %s, not %s: its listeners are let go", path, content_type, mount.info.content_type)
            mount.close_listeners("the source's format changed")
        mount.describe(config, content_type)
        mount.chains.reset()  # the new source's own headers will come
        mount.clock = None  # its own clock from its first audio (QA: "source fell 39.0 s behind" at every connect)
        if mount.title:  # a new source starts untitled, as on Icecast (QA: it aired the last one's title)
            mount.set_title("")
        mount.unheard = Unheard() if format_of(content_type).family in LEARNED else None
        mount.max_pending_seconds = MAX_PENDING_SECONDS
        return mount

    def add_mount(self, config: MountConfig) -> Mount:
        """A pass-through mount, with its pacer running under the supervisor."""
        mount = Mount(config, self.config.fanout_interval, on_title=self.on_title)
        mount.passthrough = True
        mount.on_source_gone = self.gone
        mount.on_source_heard = self.heard
        mount.on_listeners = self.on_listeners
        self.mounts[config.path] = mount
        self.supervisor.start(f"pacer {config.path}", mount.run)
        return mount

    def gone(self, mount: Mount) -> None:
        """A source dropped: its listeners go on to the fallback mount, connections kept. A
        mount that only the source made goes with it (no slave relays a mount that is gone)."""
        answer_waiting(mount)  # listeners who came as it connected: the fallback (or a 404) now
        target = self.mounts.get(mount.config.fallback or "")
        if target is not None and mount.listeners:
            self._fall_back(mount, target)
        if mount.path not in self.declared and self.mounts.get(mount.path) is mount:
            del self.mounts[mount.path]
            mount.close_listeners("source gone")
            background(self.supervisor.stop_task(f"pacer {mount.path}"), f"stopping the pacer of {mount.path}")
            log.info("%s: removed (it existed only while its source was connected)", mount.path)
        self.on_change()

    def heard(self, mount: Mount) -> None:
        """A source's first audio on `mount`: the listeners moved off it when its last source
        went come back from wherever they carry on (Icecast's fallback-override; QA: one short
        upstream blip moved a relay's audience to /main for good), if the new source's format is
        what their player now decodes and the mount has room."""
        if not mount.config.fallback_override:
            return
        away = [li for m in self.mounts.values() if m is not mount for li in m.listeners if li.home == mount.path]
        back = [li for li in away if same_format(li.mount.info.content_type, mount.info.content_type)][: room_on(mount)]
        for listener in back:
            listener.home = None
            listener.move_to(mount)
        if away:
            stay = f"; {len(away) - len(back)} stay (its format or room)" if len(back) < len(away) else ""
            log.info("%s: source back; %d listener(s) moved back%s", mount.path, len(back), stay)

    def _fall_back(self, mount: Mount, target: Mount) -> None:
        """The listeners of a mount whose source went carry on on its fallback: as many as it
        has room for, if it carries the same format (else a player would get bytes it cannot read)."""
        moving = list(mount.listeners)
        from_type, to_type = mount.info.content_type, target.info.content_type
        room = room_on(target) if same_format(from_type, to_type) else 0
        conflict = move_conflict(mount.path, target.path, from_type, to_type, len(moving), room)
        for listener in moving[room:]:
            listener.reason = "source gone"
            listener.close()
        for listener in moving[:room]:
            listener.home = listener.home or mount.path
            listener.move_to(target)
        level, rest = (logging.WARNING, f"; the rest disconnected: {conflict}") if conflict else (logging.INFO, "")
        log.log(level, "%s: source gone; %d listener(s) moved to %s%s", mount.path, min(room, len(moving)), target.path, rest)

    def kill(self, mount: Mount) -> bool:
        """Icecast's killsource: drop the mount's source; on the live mount, end the takeover too
        (even when the DJ already left and the station still plays what they sent)."""
        killed = False
        if mount.source is not None:
            mount.source.close()
            killed = True
        if mount.path == self.config.live_mount and self.feeder.live is not None:
            self.feeder.end_live()
            killed = True
        return killed

    def connected(self) -> int:
        return sum(1 for m in self.mounts.values() if isinstance(m.source, SourceConnection))
