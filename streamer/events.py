"""Live updates for web players: one queue per Server-Sent Events subscriber, bounded, so a
stalled browser tab is dropped instead of growing without limit."""

from __future__ import annotations

import asyncio
import json


class EventHub:
    QUEUE = 64

    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue[str | None]] = set()

    def subscribe(self) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue(self.QUEUE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[str | None]) -> None:
        self.subscribers.discard(q)

    @staticmethod
    def format(event: str, data: dict) -> str:
        return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"

    def publish(self, event: str, data: dict) -> None:
        if not self.subscribers:
            return
        message = self.format(event, data)
        for q in list(self.subscribers):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:  # too slow to keep up: its handler sees it is gone and closes
                self.subscribers.discard(q)

    def close(self) -> None:
        self.subscribers.clear()
