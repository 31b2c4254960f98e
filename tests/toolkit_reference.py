"""The official toolkit's reference answers (../shared, spec §15) and their comparison rules.

``reference_cases(metric)`` gives one pytest param per case of the shared JSON (a single skipped
param when ../shared is absent); ``run_case(case, analyse)`` runs ``analyse`` the way the
acceptance check does (window first, lists as tuples); ``mismatches(result, case)`` lists every
field that differs under §15's rules: integers exactly (integer dtype), floats within
``1e-9 + 1e-6·|e|`` (float dtype), shapes exactly, dicts by key, NaN where NaN, per-case
``tolerance`` entries widening ``atol`` or skipping a field (``skip``; ``random`` fields are left
to the method's own test, e.g. Louvain).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cldata
from cldata.format.spike_snapshot import spike_snapshot as spike_data
from cldata.toolkit.preprocess import SpikeData

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CL_DIR = SHARED / "fixtures" / "cl"
ANALYSES = CL_DIR / "sim_analysis_recording.analyses.json"
RTOL, ATOL = 1e-6, 1e-9


def write_recording(path: Path, ts=(), ch=(), *, frames: int | None = None, samples=None,
                    channel_count: int = 64, frames_per_second: int = 25_000) -> Path:
    """A recording with the given spikes, written by cldata's writer (no waveforms to speak of).

    ``frames`` sets the duration (a stim on channel 8 at ``frames - 1``); ``samples`` are raw
    samples (frames x channels int16).
    """
    ts = np.asarray(ts, dtype=np.int64)
    with cldata.RecordingWriter(path, channel_count=channel_count, frames_per_second=frames_per_second) as w:
        if len(ts):
            w.append_spikes(ts, np.asarray(ch, dtype=np.uint8), np.zeros((len(ts), 75), np.float32))
        if frames is not None:
            w.append_stims(np.array([frames - 1]), np.array([8]))
        if samples is not None:
            w.append_samples(samples)
    return path


def make_data(ts, ch, lo=0, hi=1000, duration=1000, channels=64, fs=1000.0, **kw) -> SpikeData:
    """A snapshot built by hand (no file): spikes, window, extent and layout facts."""
    return SpikeData(timestamps=np.asarray(ts, np.int64), channels=np.asarray(ch, np.int64), fs=fs,
                     channel_count=channels, duration_frames=duration, lo=lo, hi=hi,
                     has_spike_table=kw.get("has_spike_table", True), ground_nonzero=kw.get("ground_nonzero"),
                     file_path="x.h5")


def read_data(path: Path, lo: int | None = None, hi: int | None = None):
    """The snapshot of a recording file."""
    with cldata.RecordingView(path) as view:
        return spike_data(view, lo, hi)


def reference_cases(metric: str) -> list:
    """One ``pytest.param(case)`` per reference case of ``metric`` (skipped without ../shared)."""
    if not ANALYSES.exists():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"the official toolkit's answers are not beside the checkout ({ANALYSES})"))]
    recordings = json.loads(ANALYSES.read_text())["recordings"]
    params = []
    for name, rec in recordings.items():
        for i, case in enumerate(rec["cases"]):
            if case["metric"] == metric:
                params.append(pytest.param(dict(case, recording=name), id=f"{name}-{i}-{case.get('id', i)}"))
    return params


def saved_keys(metric: str) -> dict:
    """``recordings[name].save[metric]`` of every recording (the official save() file's keys)."""
    if not ANALYSES.exists():
        pytest.skip(f"the official toolkit's answers are not beside the checkout ({ANALYSES})")
    recordings = json.loads(ANALYSES.read_text())["recordings"]
    return {name: rec["save"][metric] for name, rec in recordings.items()}


def case_data(case: dict):
    """The snapshot of the case's recording with its ``timestamp_limit`` window."""
    lo, hi = case["timestamp_limit"] or (None, None)
    with cldata.RecordingView(CL_DIR / case["recording"]) as view:
        return spike_data(view, lo, hi)


def run_case(case: dict, analyse: Callable[..., Any]) -> Any:
    """``analyse(data, **params)`` with the case's window and parameters (lists as tuples)."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in case["params"].items()}
    return analyse(case_data(case), **params)


def _float_ok(a: Any, e: Any, atol: float) -> bool:
    if e is None:
        return isinstance(a, float | np.floating) and math.isnan(a)
    if isinstance(e, str):
        return isinstance(a, float | np.floating) and a == float(e)
    if not isinstance(a, float | np.floating) or math.isnan(a):
        return False
    if math.isinf(e) or math.isinf(a):
        return a == e
    return abs(a - e) <= atol + RTOL * abs(e)


def _array_ok(a: np.ndarray, exp: dict, atol: float) -> str | None:
    if a.dtype != np.dtype(exp["dtype"]):
        return f"dtype {a.dtype} != {exp['dtype']}"
    if list(a.shape) != list(exp["shape"]):
        return f"shape {list(a.shape)} != {exp['shape']}"
    flat_e = np.array(exp["data"], dtype=object).reshape(-1) if a.size else []
    flat_a = a.reshape(-1)
    if a.dtype.kind in "iub":
        bad = [i for i, (x, y) in enumerate(zip(flat_a, flat_e)) if int(x) != y]
    else:
        bad = [i for i, (x, y) in enumerate(zip(flat_a, flat_e)) if not _float_ok(float(x), y, atol)]
    return f"{len(bad)} elements differ, first at {bad[0]}: {flat_a[bad[0]]} != {flat_e[bad[0]]}" if bad else None


def compare(a: Any, exp: dict, atol: float = ATOL, where: str = "") -> list[str]:  # noqa: C901 (one branch per encoded type)
    """Differences between the value ``a`` and the encoded expected value ``exp``."""
    kind = exp["type"]
    out: list[str] = []
    if kind == "int":
        if not isinstance(a, int | np.integer) or isinstance(a, bool) or int(a) != exp["value"]:
            out.append(f"{where}: {a!r} != int {exp['value']}")
    elif kind == "bool":
        if not isinstance(a, bool | np.bool_) or bool(a) != exp["value"]:
            out.append(f"{where}: {a!r} != bool {exp['value']}")
    elif kind == "float":
        if not _float_ok(a, exp["value"], atol):
            out.append(f"{where}: {a!r} != float {exp['value']}")
    elif kind in ("ndarray", "numlist"):
        if kind == "ndarray" and not isinstance(a, np.ndarray):
            return [f"{where}: {type(a).__name__} is not an ndarray"]
        if kind == "numlist" and not isinstance(a, list):
            return [f"{where}: {type(a).__name__} is not a list"]
        arr = a if kind == "ndarray" else np.array(a, dtype=exp["dtype"]) if len(a) else np.empty(exp["shape"], exp["dtype"])
        if kind == "numlist" and len(a) and np.array(a).dtype.kind != np.dtype(exp["dtype"]).kind:
            out.append(f"{where}: list of {np.array(a).dtype} != {exp['dtype']}")
        problem = _array_ok(arr, exp, atol)
        if problem:
            out.append(f"{where}: {problem}")
    elif kind in ("list", "tuple"):
        if not isinstance(a, list if kind == "list" else tuple):
            return [f"{where}: {type(a).__name__} is not a {kind}"]
        if len(a) != len(exp["items"]):
            return [f"{where}: {len(a)} items != {len(exp['items'])}"]
        for i, (x, e) in enumerate(zip(a, exp["items"])):
            out += compare(x, e, atol, f"{where}[{i}]")
    elif kind == "dict":
        if dataclasses.is_dataclass(a):
            a = {f.name: getattr(a, f.name) for f in dataclasses.fields(a) if f.name != "file_path"}
        keys = [tuple(k) if isinstance(k, list) else k for k in exp["keys"]]
        if not isinstance(a, dict) or set(a) != set(keys):
            return [f"{where}: keys {sorted(map(str, a)) if isinstance(a, dict) else a!r} != {sorted(map(str, keys))}"]
        for k, e in zip(keys, exp["values"]):
            out += compare(a[k], e, atol, f"{where}[{k!r}]")
    elif kind == "bursts":
        got = [[int(b.start_frame), int(b.end_frame)] for b in a]
        if got != exp["data"]:
            out.append(f"{where}: bursts {got} != {exp['data']}")
    else:
        out.append(f"{where}: unknown encoded type {kind}")
    return out


def mismatches(result: Any, case: dict) -> list[str]:
    """Every field of ``result`` that differs from the case's ``fields`` under §15's rules."""
    names = [f.name for f in dataclasses.fields(result)]
    expected = case["fields"]
    out = [] if names == list(expected) else [f"field order {names} != {list(expected)}"]
    tolerance = case.get("tolerance", {})
    for name, exp in expected.items():
        rule = tolerance.get(name, {})
        if rule.get("skip") or rule.get("random"):
            continue
        if not hasattr(result, name):
            out.append(f"{name}: missing")
            continue
        out += compare(getattr(result, name), exp, max(ATOL, rule.get("atol", ATOL)), name)
    return out
