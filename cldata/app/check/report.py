"""What a check found: a :class:`CheckReport` of :class:`Problem` s, notes and counts, and the
time budget (:class:`Clock`) the check reads within.

A report says what was checked (counts), each problem (``PROBLEM``) with what to do, what
repair fixed (``REPAIRED``), and in its last line what is left: which problems repair would
fix, or that the rest need a person. A check that ran out of time says what it did not read
and is not :attr:`CheckReport.complete`.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CheckReport", "Problem", "Clock", "OutOfTime", "ran_out", "counted", "what_is", "is_directory"]


class OutOfTime(Exception):
    """The check's time budget ran out (caught by the check, which reports it)."""


class Clock:
    """The time budget of one check: :meth:`tick` between bounded reads raises when it is spent."""

    def __init__(self, budget: float | None):
        self.start = time.monotonic()
        self.budget = budget

    def tick(self) -> None:
        if self.budget is not None and time.monotonic() - self.start > self.budget:
            raise OutOfTime

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start


@dataclass
class Problem:
    """One problem found: where, what, whether repair can fix it, and whether it did."""

    where: str
    message: str
    repaired: bool = False
    #: whether ``repair=True`` (``cldata check --repair``) fixes it
    repairable: bool = False

    def __str__(self) -> str:
        return f"{'REPAIRED' if self.repaired else 'PROBLEM'} {self.where}: {self.message}"


#: plural -> singular of the things a report counts
_SINGULAR = {"entries": "entry", "recordings": "recording", "results": "result", "files": "file",
             "data streams": "data stream", "spikes": "spike", "stims": "stim", "sample frames": "sample frame"}


def counted(count: int, plural: str) -> str:
    """``1 recording``, ``2 recordings``, ``12,500 sample frames``."""
    return f"{count:,} {plural if count != 1 else _SINGULAR.get(plural, plural.removesuffix('s'))}"


def listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass
class CheckReport:
    """What a check found (``healthy`` when nothing is left unrepaired).

    ``str(report)`` is the report in the words of Python (``repair=True``); the command
    line prints :meth:`text` with its own (``cldata check PATH --repair``).

    Examples
    --------
    >>> report = CheckReport(Path("lab-store"), "store", counts={"recordings": 1, "results": 0, "files": 3})
    >>> print(report)
    lab-store: healthy — checked 1 recording, 0 results and 3 files
    >>> report.add("recording rec_1", "a stray file beside it (repair removes it)", repairable=True).repaired
    False
    >>> print(report.text(repair="cldata check lab-store --repair"))
    lab-store: 1 problem found — checked 1 recording, 0 results and 3 files
      PROBLEM recording rec_1: a stray file beside it (repair removes it)
      to do: `cldata check lab-store --repair` repairs it
    """

    path: Path
    kind: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    #: whether everything was read in full (False when the time budget ran out)
    complete: bool = True
    #: the time budget in seconds (None: none), and the seconds the check took
    budget: float | None = None
    seconds: float = 0.0
    #: whether the check was asked to repair (``repair=True``)
    repair: bool = False

    @property
    def healthy(self) -> bool:
        """Nothing found is left unrepaired (see :attr:`complete` for whether all was read)."""
        return all(p.repaired for p in self.problems)

    def add(self, where: str, message: str, *, repairable: bool = False) -> Problem:
        """Record a problem (``repairable``: repair fixes it) and return it."""
        problem = Problem(where, message, repairable=repairable)
        self.problems.append(problem)
        return problem

    def checked(self) -> str:
        """What was checked, counted: ``"checked 2 recordings, 5 results and 9 files"``."""
        parts = [counted(n, what) for what, n in self.counts.items()]
        return f"checked {listed(parts)}" if parts else "checked nothing"

    def text(self, repair: str = "check_path(path, repair=True)", budget: str = "budget=SECONDS") -> str:
        """The report, naming ``repair`` as the way to repair and ``budget`` as the way to
        give more time (the command line passes its own words)."""
        if self.kind == "missing":
            return f"{self.path}: no such file or directory; nothing was checked"
        left = [p for p in self.problems if not p.repaired]
        fixed = [p for p in self.problems if p.repaired]
        fixable = [p for p in left if p.repairable and not self.repair]
        if not left and not self.complete:
            head = f"{self.path}: no problem found in what was read"
        elif not left:
            head = f"{self.path}: healthy"
        else:
            head = f"{self.path}: {counted(len(left), 'problems')} {'found' if not self.repair else 'left'}"
        if fixed:
            head = (f"{self.path}: repaired {counted(len(fixed), 'problems')}; "
                    + ("healthy now" if not left else f"{counted(len(left), 'problems')} left")
                    + ("" if self.complete else " (in what was read)"))
        lines = [f"{head} — {self.checked()}", *(f"  {p}" for p in self.problems),
                 *(f"  note: {n}" for n in self.notes)]
        if fixable:
            them = "it" if len(left) == 1 else "them" if len(fixable) == len(left) else f"{len(fixable)} of them"
            rest = "" if len(fixable) == len(left) else "; the others need you: each says what to do"
            lines.append(f"  to do: `{repair}` repairs {them}{rest}")
        elif left and self.kind in ("store", "recording"):
            who = "repair did not fix" if self.repair and any(p.repairable for p in left) else "repair cannot fix"
            lines.append(f"  to do: {who} {'this' if len(left) == 1 else 'these'}; "
                         f"{'it says' if len(left) == 1 else 'each says'} what to do")
        if not self.complete:
            lines.append(f"  INCOMPLETE: the time budget of {self.budget:g} s ran out after {self.seconds:.1f} s, "
                         "before everything was read in full (what was not read is listed above as notes); "
                         f"check again with a larger budget ({budget}, 0 for none)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def ran_out(report: CheckReport, clock: Clock, what: str) -> None:
    report.complete = False
    report.budget = clock.budget
    report.notes.append(what)


def what_is(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "gone"
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link (to {os.readlink(path)!r:.200})"
        except OSError:
            return "a symbolic link"
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a socket or a device)"


def is_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True  # gone meanwhile
