"""``cldata nwb``: a CL recording, or a store (or a selection of it), written as NWB.

``cldata nwb rec.h5 rec.nwb`` writes one file; ``cldata nwb STORE OUT/`` writes one file per
recording of the store, ``OUT/<recording id>.nwb``, narrowed by the view options of
``cldata query`` (``--filter``, ``--streams``, ``--tag``, ``--between``, ``--chain``;
:mod:`cldata.batch.query_syntax`). ``--link`` (the default) keeps the samples in the CL
files (a virtual dataset, nothing copied: the NWB file reads them where they are);
``--no-link`` copies them, compressed, into self-contained files (what DANDI accepts);
``--split 1GB`` writes each self-contained file as members of at most that size
(``rec.00000.nwb``, ``rec.00001.nwb``...: HDF5's family driver). ``--neo`` lays the files out so
that neo's ``NWBIO`` reads their units, stims and window (not the samples: see docs/NWB.md).
What goes where in NWB: :mod:`cldata.format.nwb.layout`; which recording, window, streams
and results: :mod:`cldata.store.nwb_export`.

Examples
--------
::

    cldata nwb rec.h5 rec.nwb                       # linked: a small file over rec.h5
    cldata nwb cldata-demo/store out/ --no-link      # one self-contained file per recording
    cldata nwb lab-store c7/ --filter culture=C7 --between 0 60s --streams score
    cldata nwb long.h5 long.nwb --no-link --split 2GB   # long.00000.nwb, long.00001.nwb, ...
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import cldata
from cldata.app.cli.errors import CliError
from cldata.app.cli.paths import described, is_recording, open_for_reading
from cldata.app.cli.query_commands import apply_filters, view_spec
from cldata.core.sizes import parse_size
from cldata.errors import ParameterError
from cldata.format.nwb.layout import MIN_SPLIT_BYTES, family_members, family_of
from cldata.format.nwb.reader import read_nwb
from cldata.store.nwb_export import to_nwb

__all__ = ["nwb_command", "nwb_info"]


def human_bytes(n: float) -> str:
    """``n`` bytes in a few characters (``"12.3 MB"``)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _members(path: Path) -> list[Path]:
    """The files an NWB file is: its members when split (``path``: its name or any member), else itself."""
    family = family_of(path)
    return (family_members(family) if family is not None else []) or [path]


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in _members(path))


def _size(path: Path) -> str:
    n = len(_members(path))
    return human_bytes(_bytes(path)) + (f" in {n} members" if n > 1 else "")


def _split(args: argparse.Namespace) -> int | None:
    """``--split`` in bytes, checked in the command line's words."""
    if args.split is None:
        return None
    if args.link:
        raise CliError("--split splits self-contained files: add --no-link (a linked file holds no samples)", 2)
    try:
        size = parse_size(args.split, what="--split")
    except ParameterError as e:
        raise CliError(str(e), 2) from None
    if size < MIN_SPLIT_BYTES:
        raise CliError(f"--split {args.split}: members below 1 MiB would be thousands of files; give e.g. 1GB", 2)
    return size


def _file_command(args: argparse.Namespace, source: Path, spec: dict[str, Any]) -> int:
    options = spec["options"]
    if options.filter or options.streams or options.tags or options.chain is not None:
        raise CliError(f"{source} is one CL recording: --filter, --streams, --tag and --chain select in a store "
                       "(a recording is written with all its streams; --between cuts its window)", 2)
    out = Path(args.out)
    if out.is_dir():
        out = out / (source.stem + ".nwb")
    split = _split(args)
    taken = [p for p in [out, *(family_members(out) if split else [])] if os.path.lexists(p)]
    if taken and not args.overwrite:
        raise CliError(f"{taken[0]} exists; pass --overwrite to replace it")
    with cldata.RecordingView(source) as view:
        shown = view.between(*options.between) if options.between is not None else view
        path = to_nwb(shown, out, link=args.link, overwrite=args.overwrite, neo=args.neo, split=split)
    print(f"wrote {path} ({_size(path)}, {'linked to' if args.link else 'self-contained, from'} {source})")
    return 0


def nwb_command(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if source.suffix.lower() == ".nwb" and source.is_file():
        raise CliError(f"{source} is an NWB file already; SOURCE is a CL recording (.h5) or a store (`cldata import "
                       f"STORE {source}` puts an NWB file cldata wrote back into a store)")
    what = described(source, "a CL recording file (.h5), a store directory or a store export file")
    spec = view_spec(args)
    _split(args)  # (its mistakes before anything is opened)
    if what == "a file" and is_recording(source):
        return _file_command(args, source, spec)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is a file; a store is written as one NWB file per recording: name a directory")
    with open_for_reading(args.source) as store:
        view = apply_filters(store, args, spec)
        if isinstance(view, list):
            raise CliError("the --chain query splits the store into parts; nwb takes one selection: end the "
                           "chain without a partition", 2)
        paths = view.to_nwb(out, link=args.link, overwrite=args.overwrite, neo=args.neo, split=_split(args))
    total = sum(_bytes(p) for p in paths)
    kind = "linked to the store's recordings" if args.link else "self-contained"
    print(f"wrote {len(paths)} NWB file{'s' if len(paths) != 1 else ''} to {out} ({human_bytes(total)}, {kind})")
    for p in paths:
        print(f"  {p.name}  {_size(p)}")
    return 0


def nwb_info(path: Path) -> int:
    """``cldata info x.nwb``: what an NWB file cldata wrote holds, in a few lines."""
    try:
        nwb = read_nwb(path)
    except ImportError as exc:  # (h5py comes with the nwb extra)
        raise CliError(f"reading {path} needs the nwb extra: pip install 'cldata[nwb]' ({exc})") from None
    with nwb:
        f = nwb.file
        ident = f["identifier"][()]
        start = f["session_start_time"][()]
        members = _members(path)
        kept = f"linked to {nwb.linked_to}" if nwb.linked_to is not None else "self-contained"
        split = f" in {len(members)} members" if len(members) > 1 else ""
        print(f"{path}: an NWB file cldata wrote ({kept}, {human_bytes(sum(m.stat().st_size for m in members))}"
              f"{split}; {'laid out for neo' if nwb.for_neo else 'NWB layout'})")
        print(f"  identifier: {_text(ident)}   session start: {_text(start)}")
        fps, frames = nwb.frames_per_second, nwb.sample_frames
        print(f"  samples: {frames:,} frames from frame {nwb.first_sample_frame:,} ({frames / fps:g} s at {fps} Hz), "
              f"{nwb.channel_count} channels")
        spikes, stims = nwb.read_spikes(waveforms=False), nwb.read_stims()
        print(f"  spikes: {len(spikes):,} on {len(set(spikes['channel'].tolist()))} channels   stims: {len(stims):,}")
        for name, stream in nwb.data_streams.items():
            print(f"  stream {name}: {len(stream):,} entries, attributes {dict(stream.attributes)}")
        if nwb.results:
            print(f"  results: {len(nwb.results)} ({', '.join(str(r.get('name', '?')) for r in nwb.results[:5])}"
                  f"{', ...' if len(nwb.results) > 5 else ''})")
    return 0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
