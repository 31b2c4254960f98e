"""The ``cldata`` command line.

Examples
--------
::

    cldata demo                 # simulated recordings, read back and summarised
    cldata info recording.h5    # what a recording or store holds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from cldata.format.reader import RecordingView
    from cldata.simulate import simulate_recording

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cldata-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"cldata demo: writing {args.recordings} simulated recordings to {out}")
    for i in range(args.recordings):
        path = out / f"sim_{i:02d}.h5"
        info = simulate_recording(path, duration_s=args.duration, seed=i, overwrite=True,
                                  attributes={"culture": f"C{i % 2 + 1}", "session": i})
        with RecordingView(path) as rec:
            spikes = rec.read_spikes(waveforms=False)
            rate = len(spikes) / rec.duration_seconds / rec.channel_count
            ball = rec.data_streams["ball_position"]
            print(f"  {path.name}: {rec.duration_seconds:.1f} s, {len(spikes)} spikes "
                  f"({rate:.1f} Hz per channel), {len(rec.read_stims())} stims, "
                  f"{len(ball)} ball positions, score {info['points']}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from cldata.format.reader import RecordingView

    with RecordingView(args.path) as rec:
        print(rec)
        for name, value in rec.attributes.to_dict().items():
            print(f"  {name}: {value!r}")
        for name, stream in rec.data_streams.items():
            print(f"  stream {name}: {len(stream)} entries, attributes {stream.attributes.to_dict()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cldata`` command."""
    parser = argparse.ArgumentParser(prog="cldata", description="Closed-loop neural recordings: store, query, analyse.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write simulated CL recordings and summarise them")
    demo.add_argument("--out", help="directory for the demo files (default: a new temporary directory)")
    demo.add_argument("--recordings", type=int, default=4, help="how many recordings to simulate (default 4)")
    demo.add_argument("--duration", type=float, default=2.0, help="seconds per recording (default 2)")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="describe a CL recording")
    info.add_argument("path")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``cldata`` command; return its exit status."""
    from cldata.errors import CldataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CldataError, FileNotFoundError) as exc:
        print(f"cldata: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
