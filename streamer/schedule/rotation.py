"""The order a playlist's files air in: shuffle, random or sequential (pure, given its random
generator), and where no-repeat windows make the scheduler take a file out of turn.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path


class Rotation:
    """Picks the next file of a playlist. Pure given its random generator.

    shuffle: every file once, in random order, before any repeats (and no file twice in a row
    across rounds); random: independent picks; sequential: in order, round and round.
    """

    def __init__(self, files: list[Path], order: str, rng: random.Random | None = None) -> None:
        self.files = list(files)
        self.order = order
        self.rng = rng or random.Random()
        self._queue: list[Path] = []
        self._index = 0
        self._drawn: Path | None = None  # random order: the next pick, drawn ahead by peek()
        self._ahead: set[int] = set()  # sequential: places (counted as _index is) aired ahead of their turn
        self.last: Path | None = None

    def carry_over(self, old: Rotation) -> None:
        """Go on from where `old` (the same playlist before a reload) was, so a reload does not
        restart the round: files still listed keep their place, new ones join what is left."""
        if old.order != self.order:
            return
        self.last = old.last
        present = set(self.files)
        if self.order == "sequential" and old.last in present:
            self._index = self.files.index(old.last) + 1
        elif self.order == "sequential" and old.last in old.files:  # the file on air was deleted: on
            after = old.files.index(old.last) + 1  # from the next one still there, not from the top
            following = [f for f in old.files[after:] + old.files[:after] if f in present]
            self._index = self.files.index(following[0]) if following else 0
        elif self.order == "shuffle" and old._queue:
            known = set(old.files)
            added = [f for f in self.files if f not in known]
            self._queue = [f for f in old._queue if f in present] + added
            if added:
                self.rng.shuffle(self._queue)

    def state(self) -> tuple[int, tuple[Path, ...], Path | None, Path | None, frozenset[int]]:
        """Where the rotation stands (what `restore` puts back)."""
        return self._index, tuple(self._queue), self._drawn, self.last, frozenset(self._ahead)

    def restore(self, state: tuple[int, tuple[Path, ...], Path | None, Path | None, frozenset[int]]) -> None:
        index, queue, self._drawn, self.last, ahead = state
        self._index, self._queue, self._ahead = index, list(queue), set(ahead)

    def next(self) -> Path | None:
        pick = self.peek()
        if pick is None:
            return None
        if self.order == "sequential":
            self._advance()
        elif self.order == "random":
            self._drawn = None
        else:
            self._queue.pop()
        self.last = pick
        return pick

    def upcoming(self) -> list[Path]:
        """The files in the order next() would give them: the rest of the shuffle's round, the
        list from its place on; random order: the one drawn next."""
        first = self.peek()
        if first is None:
            return []
        if self.order == "sequential":
            n = len(self.files)
            return [self.files[i % n] for i in range(self._index, self._index + n) if i not in self._ahead]
        return self._queue[::-1] if self.order == "shuffle" else [first]

    def next_round(self) -> bool:
        """A shuffle whose round's rest is held back (by no-repeat windows) deals the next round
        in behind it: those files still come first, when they may. False if that is done already
        (or not a shuffle)."""
        if self.order != "shuffle" or len(self._queue) >= len(self.files):
            return False
        fresh = self.files[:]
        self.rng.shuffle(fresh)
        self._queue = fresh + self._queue
        return True

    def _advance(self) -> None:
        self._index += 1
        while self._index in self._ahead:
            self._ahead.discard(self._index)
            self._index += 1

    def take(self, path: Path, passed: Iterable[Path] = ()) -> None:
        """`path` airs in place of next(): the shuffle's round loses it and the `passed` files
        (ones that will not play; the files the windows held back stay, to come next); in a list
        its place is passed over when its turn comes (the files before it keep theirs); random
        order draws again."""
        if self.order == "shuffle":
            gone = set(passed)
            if path in self._queue:
                del self._queue[len(self._queue) - 1 - self._queue[::-1].index(path)]
            self._queue = [f for f in self._queue if f not in gone] if gone else self._queue
        elif self.order == "sequential" and path in self.files:
            n = len(self.files)
            place = next((i for i in range(self._index, self._index + 2 * n) if i not in self._ahead and self.files[i % n] == path), None)
            if place is None or place == self._index:
                self._advance()
            else:  # out of turn: the files before it keep their turn, and its own place is passed over
                self._ahead.add(place)
        elif self.order == "random":
            self._drawn = None
        self.last = path

    def peek(self) -> Path | None:
        """The file next() gives next (drawn now if need be: next() then gives that one), so
        it can be analysed before it airs."""
        if not self.files:
            return None
        if self.order == "sequential":
            return self.files[self._index % len(self.files)]
        if self.order == "random":
            if self._drawn is None:
                self._drawn = self.rng.choice(self.files)
            return self._drawn
        if not self._queue:
            self._queue = self.files[:]
            self.rng.shuffle(self._queue)
            if len(self._queue) > 1 and self._queue[-1] == self.last:
                self._queue[0], self._queue[-1] = self._queue[-1], self._queue[0]
        return self._queue[-1]
