"""The check of an NWB file cldata wrote (:func:`cldata.to_nwb`): it opens, and reads in full.

A linked NWB file's samples are a virtual dataset over a CL file's ``/samples``, named by
a path relative to the NWB file's folder; when that CL file has moved or gone, the reader
raises :class:`~cldata.errors.BrokenLinkError`, reported here as the problem it is (put
the CL file back where the link says, or write the NWB file again, ``--no-link`` for one
that needs nothing beside it). Nothing is repaired: an NWB file is written again, not mended.

Reading is in bounded pieces (262,144 sample frames) within the time budget, as for a CL
recording (:mod:`cldata.app.check.recording`). Needs pynwb (``pip install 'cldata[nwb]'``);
without it the report says so.

Examples
--------
>>> print(check_nwb(Path("rec.nwb")))          # doctest: +SKIP
rec.nwb: healthy — checked 1 recording, ...
"""

from __future__ import annotations

from pathlib import Path

from cldata.app.check.report import CheckReport, Clock, OutOfTime, ran_out
from cldata.core.blocks import frame_blocks
from cldata.errors import BrokenLinkError, CldataError

__all__ = ["check_nwb", "NWB_SUFFIX"]

NWB_SUFFIX = ".nwb"
_FRAMES = 1 << 18  # sample frames read at a time
_EVENTS = 1 << 16  # spikes or stream entries (about) read at a time


def check_nwb(path: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None) -> CheckReport:
    """Check an NWB file (see module doc): it is cldata's, it opens, its CL source is where its link says, it reads.

    Examples
    --------
    >>> check_nwb(Path("moved.nwb")).problems[0].message          # doctest: +SKIP
    'its samples link to ../rec.h5, which is missing: ...'
    """
    clock = Clock(budget)
    report = CheckReport(Path(path), "nwb", budget=budget, repair=repair)
    if repair:
        report.notes.append("an NWB file is not repaired: write it again (`cldata nwb`)")
    where = str(path)
    try:
        # why: pynwb is the nwb extra; imported only when an NWB file is checked
        from cldata.format.nwb.reader import is_cldata_nwb, read_nwb
    except ImportError as exc:
        report.add(where, f"checking an NWB file needs pynwb: pip install 'cldata[nwb]' ({exc})")
        return report
    if not is_cldata_nwb(path):
        report.add(where, "is not an NWB file cldata wrote (check another NWB file with pynwb's validator, "
                          "`python -m pynwb.validate FILE`, or nwbinspector)")
        return report
    try:
        with read_nwb(path) as view:
            _read(view, report, clock, deep)
    except BrokenLinkError as exc:
        report.add(where, f"{exc} (put the CL file back where the link says, or write the NWB file again; "
                          "`cldata nwb --no-link` writes one that needs nothing beside it)")
    except OutOfTime:
        ran_out(report, clock, f"{where} was not read in full")
    except (CldataError, OSError) as exc:
        report.add(where, f"cannot be read: {exc}")
    return report


def _read(view: object, report: CheckReport, clock: Clock, deep: bool) -> None:
    """Read the file (deep: all of it, samples, waveforms and stream entries a block at a time)."""
    frames_of_spikes = view.read_spikes(waveforms=False)["timestamp"]  # type: ignore[attr-defined]
    stims, streams = view.read_stims(), view.data_streams  # type: ignore[attr-defined]
    report.counts = {"recordings": 1, "spikes": len(frames_of_spikes), "stims": len(stims),
                     "data streams": len(streams)}
    first, frames = view.first_sample_frame, view.sample_frames  # type: ignore[attr-defined]
    if not deep:
        view.read_samples(first, first + min(frames, 1))  # type: ignore[attr-defined]  # the link resolves
        return
    for start in range(first, first + frames, _FRAMES):
        clock.tick()
        view.read_samples(start, min(start + _FRAMES, first + frames))  # type: ignore[attr-defined]
    if not frames:
        view.read_samples()  # type: ignore[attr-defined]
    report.counts["sample frames"] = frames
    for start, stop in frame_blocks(frames_of_spikes, _EVENTS):  # (a linked file's from its CL file)
        clock.tick()
        view.read_spikes(start, stop)  # type: ignore[attr-defined]
    for stream in streams.values():
        for start, stop in frame_blocks(stream.timestamps, _EVENTS):
            clock.tick()
            stream.read(start, stop)
