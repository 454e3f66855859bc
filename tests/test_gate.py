"""The gate's bookkeeping (pure): heads are capped, resting keep-alive connections are not, and
when descriptors run short the resting ones go first, silently, then the slowest heads."""

from __future__ import annotations

import asyncio

from streamer.stream.gate import Gate, no_room
from streamer.stream.listener import ANSWER_BATCH, Unheard


class Door:
    def __init__(self, gate: Gate, name: str) -> None:
        self.gate, self.name, self.fate = gate, name, ""

    def drop_slow(self) -> None:
        self.fate = "408"
        self.gate.release(self)

    def drop_idle(self) -> None:
        self.fate = "closed"
        self.gate.release(self)


def test_heads_are_capped_and_the_longest_waiting_goes_first():
    gate = Gate(max_pending=2, fd_budget=100)
    a, b, c = (Door(gate, n) for n in "abc")
    for door in (a, b, c):
        assert gate.admit(door, len(gate.pending) + len(gate.idle))
    assert (a.fate, b.fate, c.fate) == ("408", "", "") and list(gate.pending) == [b, c]
    assert gate.dropped_slow == 1


def test_resting_keepalive_connections_do_not_count_against_the_head_cap():
    gate = Gate(max_pending=2, fd_budget=10_000)
    players = [Door(gate, str(i)) for i in range(5_000)]
    for door in players:  # 5,000 HLS players, each answered and waiting for its next poll
        assert gate.admit(door, len(gate.pending) + len(gate.idle))
        gate.rest(door)
    assert len(gate.idle) == 5_000 and not gate.pending and all(p.fate == "" for p in players)
    gate.wake(players[0])  # a poll begins: a head again, under the cap
    assert list(gate.pending) == [players[0]] and len(gate.idle) == 4_999


def test_short_of_descriptors_the_idle_go_first_and_quietly():
    gate = Gate(max_pending=10, fd_budget=3)
    resting, head = Door(gate, "resting"), Door(gate, "head")
    gate.admit(resting, 0)
    gate.rest(resting)
    gate.admit(head, 1)
    other = Door(gate, "third")
    gate.admit(other, 2)
    newest = Door(gate, "newest")
    assert gate.admit(newest, 3)  # one over the budget: the resting connection is closed, not a head
    assert (resting.fate, head.fate, other.fate) == ("closed", "", "") and gate.dropped_idle == 1
    assert gate.admit(Door(gate, "more"), 3)  # none resting left: the longest-waiting head goes
    assert head.fate == "408"


def test_refused_only_when_every_descriptor_is_held_by_a_client_that_said_what_it_wants():
    gate = Gate(max_pending=10, fd_budget=3)
    assert not gate.admit(Door(gate, "x"), 3) and gate.refused == 1


def test_room_for_a_listener_is_the_mount_s_limit_then_the_server_s():
    assert no_room(9, 10, 99, 100) is None
    assert no_room(10, 10, 50, 100) == ("max_listeners", "max listeners reached")
    assert no_room(3, 10, 100, 100) == ("server_full", "server full: too many listeners")
    assert no_room(10, 10, 100, 100)[0] == "max_listeners"  # the mount's own limit is named first


def test_listeners_waiting_for_a_source_are_answered_once_and_a_batch_at_a_time():
    async def run() -> tuple[int, int, list[int]]:
        loop = asyncio.get_running_loop()
        answered = [0] * 450
        unheard = Unheard()
        for i in range(450):
            unheard.wait(lambda i=i: answered.__setitem__(i, answered[i] + 1), 0.05)
        unheard.heard()
        first = sum(answered)  # the rest after the event loop's other work has had its turn
        await asyncio.sleep(0)
        second = sum(answered)
        await asyncio.sleep(0.1)  # every deadline passes too: nobody is answered twice
        late = Unheard()
        late.wait(lambda: answered.append(1), 0.01)
        await asyncio.sleep(0.05)
        assert loop.is_running()
        return first, second, answered

    first, second, answered = asyncio.run(run())
    assert first == ANSWER_BATCH and second == 2 * ANSWER_BATCH
    assert answered == [1] * 450 + [1]  # each once; a source never heard: its listener at the deadline
