"""A pass-through mount's input: a source's or an upstream's audio bytes, cut into units.

MP3 and AAC go in as frames (MP3 frames, ADTS frames) that the mount's clock paces, Ogg as
whole pages with its header pages noted on the mount for listeners who join later, anything
else as bytes. Used by source clients and pull relays alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..stream.listener import answer_waiting
from ..wire.formats import format_of
from ..wire.framing import AdtsFramer, OggFramer, adts_params, adts_samples, ogg_chain_end
from ..wire.mp3 import FrameSplitter

if TYPE_CHECKING:
    from ..stream.mount import Mount


LEARNED = ("mp3", "ogg", "aac")  # the formats whose parameters are read from the stream


class Ingest:
    def __init__(self, mount: Mount, content_type: str) -> None:
        self.mount = mount
        family = format_of(content_type).family
        self.mp3 = FrameSplitter() if family == "mp3" else None
        self.ogg = OggFramer() if family == "ogg" else None
        self.adts = AdtsFramer() if family == "aac" else None
        self.described = False  # the stream's own parameters were given to the mount
        self.heard = False  # its first audio has been queued (and the mount told)

    def feed(self, data: bytes) -> None:
        self._feed(data)
        if self.described and self.mount.unheard is not None:
            answer_waiting(self.mount)  # listeners who came as the source connected: now its head is known
        if not self.heard and (self.described or self.mount.pending_raw or self.mount.pending):
            self.heard = True
            if self.mount.on_source_heard is not None:
                self.mount.on_source_heard(self.mount)  # its listeners on the fallback may come back

    def _feed(self, data: bytes) -> None:
        mount = self.mount
        if self.mp3 is not None:
            for header, frame in self.mp3.feed(data):
                if not self.described:
                    self.described = True
                    mount.learn(header.bitrate, header.sample_rate, header.channels)
                mount.queue_frame(frame, header.samples, None, header.sample_rate)
            return
        if self.ogg is not None:
            self._feed_ogg(data)
            return
        if self.adts is not None:
            for frame in self.adts.feed(data):
                _, rate, channels = adts_params(frame)
                if not self.described:
                    self.described = True
                    mount.learn(None, rate, channels)
                mount.queue_frame(frame, adts_samples(frame), None, rate)
            return
        if data:
            mount.queue_bytes(data)

    def _feed_ogg(self, data: bytes) -> None:
        ogg, mount = self.ogg, self.mount
        assert ogg is not None
        pages = ogg.feed(data)
        began, ended = ogg.chain_began, ogg.headers_ended
        if began is not None and (ending := self._unended(pages[began - 1] if began else None)):
            pages.insert(began, ending)  # the chain before ends before this one begins (RFC 3533)
            ended = ended + 1 if ended is not None and ended > began else ended  # (an earlier chain's: in place)
            began += 1
        at = mount.queued_end()  # the stream offset these pages will have
        if ended is not None and began is not None and ended <= began:  # an earlier chain's headers, then a new chain
            self._headers_in(at + sum(map(len, pages[:ended])))
            ended = None
        if began is not None:
            mount.chains.begin(at + sum(map(len, pages[:began])))
        if ended is not None:
            self._headers_in(at + sum(map(len, pages[:ended])))
        if pages:
            mount.queue_bytes(b"".join(pages))

    def _headers_in(self, end: int) -> None:
        """The latest chain's header pages are all in, ending at stream offset `end`: listeners who
        join later start with them, and they say what the stream is."""
        ogg, mount = self.ogg, self.mount
        assert ogg is not None
        mount.set_stream_header(ogg.headers, end)
        mount.learn(*ogg.params)
        self.described = True
        if ogg.title:
            mount.set_title(ogg.title, ogg.parts)

    def _unended(self, page: bytes | None) -> bytes:
        """The EOS page missing after `page` (or, if None, after what the mount has: a source that
        dropped mid-chain, the next one's first chain beginning), or b"" if that chain ended."""
        mount = self.mount
        if page is not None:
            return ogg_chain_end(page)
        if mount.pending_raw:  # whole pages, not yet paced out
            return ogg_chain_end(mount.pending_raw[-1])
        return mount.buffer.ogg_chain_end(mount.buffer.end) if mount.chains.current else b""
