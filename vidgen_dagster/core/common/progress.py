"""Progress of long work on the console: bars with counts and ETA on a terminal, plain lines otherwise.

The stages already report ``progress(done, total, what)`` (videos probed, scenes detected, clips
scored, ...). During a CLI run the assets run in this process, so the CLI installs one ``Console``
for the whole command and every stage callback also reports to it through ``report()``:

* on a TTY: two ``tqdm`` bars (tqdm comes with transformers; no new dependency) — shards overall and
  the current step of the current shard (``scenes 3/6 videos``), each with its rate and ETA;
* otherwise (CI logs, pipes): nothing extra — the plain log lines the stages and the CLI already
  write stay the record, one line per event, no carriage returns.

Outside a CLI command (the UI, the daemon, tests calling a stage) no console is installed and
``report()`` does nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

_active: Console | None = None

StepProgress = Callable[[int, int, str], None]
"""What a stage calls as it works: ``progress(done, total, what)`` (e.g. ``3, 6, "videos"``)."""


def no_progress(done: int, total: int, what: str) -> None:
    """The default :data:`StepProgress`: report nothing."""


def use_bars(stream: IO[str] | None = None) -> bool:
    """Bars only on an interactive terminal; ``VIDGEN_PROGRESS=plain`` or ``bars`` forces either way."""
    forced = os.environ.get("VIDGEN_PROGRESS", "").lower()
    if forced in ("plain", "bars"):
        return forced == "bars"
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _size(stream: IO[str]) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
        return size.columns, size.lines
    except (AttributeError, OSError, ValueError):
        return 0, 0


class Console:
    """The command's progress display: ``bars`` (TTY) or ``plain`` (no output of its own)."""

    def __init__(self, total_shards: int, bars: bool, stream: IO[str] | None = None, lines: bool = False):
        self.bars = bars
        self.lines = lines  # plain mode: print "verb: done/total" lines too (for work that logs nothing itself)
        self._last_line = -1.0
        self.stream = stream or sys.stderr
        self._shards: Any = None
        self._step: Any = None
        self._step_name = ""
        if bars:
            from tqdm import tqdm

            self._tqdm = tqdm
            # A terminal that reports no size (a fresh pty, `script`, some CI runners) would get empty
            # bars from tqdm, which hides bars below the screen's last row: give it a size then.
            cols, rows = _size(self.stream)
            self._width = {"dynamic_ncols": True} if cols > 0 and rows > 0 else {"ncols": cols or 100,
                                                                                 "nrows": rows or 24}
            self._shards = tqdm(total=total_shards, desc="shards", unit="shard", position=0, file=self.stream,
                                leave=True, **self._width)

    def shard(self, name: str) -> None:
        """A shard starts: shown as the shards bar's postfix."""
        if self._shards is not None:
            self._shards.set_postfix_str(name, refresh=True)

    def shard_done(self) -> None:
        if self._shards is not None:
            self._shards.update(1)
        self._close_step()

    def step(self, verb: str, done: int, total: int, what: str = "") -> None:
        """One stage callback: ``verb`` (e.g. "detecting scenes") is at ``done`` of ``total``."""
        if not self.bars:
            if self.lines and total and (done >= total or done == 0 or time.monotonic() - self._last_line >= 10):
                self._last_line = time.monotonic()
                print(f"  {verb}: {done}/{total}", flush=True)
            return
        if self._step is None or verb != self._step_name:
            self._close_step()
            self._step_name = verb
            self._step = self._tqdm(total=total, desc=f"  {verb}", position=1, file=self.stream,
                                    leave=False, **self._width)
        if self._step.total != total:
            self._step.total = total
        self._step.n = done
        self._step.refresh()
        if done >= total:
            self._close_step()

    def write(self, line: str) -> None:
        """A line of text that must not be torn by the bars."""
        if self.bars:
            self._tqdm.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def _close_step(self) -> None:
        if self._step is not None:
            self._step.close()
            self._step, self._step_name = None, ""

    def close(self) -> None:
        self._close_step()
        if self._shards is not None:
            self._shards.close()
            self._shards = None


def report(verb: str, done: int, total: int, what: str = "") -> None:
    """Called by every stage progress callback; a no-op unless a CLI command installed a console."""
    if _active is not None:
        _active.step(verb, done, total, what)


@contextmanager
def console(total_shards: int, bars: bool | None = None, lines: bool = False) -> Iterator[Console]:
    """Install a ``Console`` for the duration of a command (bars decided by ``use_bars`` unless given;
    ``lines``: without bars, print progress lines every 10 s)."""
    global _active
    c = Console(total_shards, use_bars() if bars is None else bars, lines=lines)
    previous, _active = _active, c
    try:
        yield c
    finally:
        _active = previous
        c.close()
