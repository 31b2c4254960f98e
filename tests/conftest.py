"""Shared fixtures: the official CL recording, and helpers that write real recordings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import cldata

# No timing-dependent outcomes: under load (CI's 2 cores, a second job beside it) generating
# inputs or running an example can take longer than hypothesis' defaults allow, which made
# tests fail for the machine's sake, not the code's. Deadlines and the "too slow" health
# check are off for the whole suite; every other health check stays.
settings.register_profile("cldata", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cldata")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CL_FIXTURE = SHARED / "fixtures" / "cl" / "sim_small_recording.h5"
CL_EXPECTED = SHARED / "fixtures" / "cl" / "sim_small_recording.expected.json"


@pytest.fixture(scope="session")
def cl_fixture() -> Path:
    """The recording written by the official CL simulator (cl-sdk 1.0.0)."""
    if not CL_FIXTURE.exists():
        # an extra cross-check against the official simulator's file: the suite runs without it
        pytest.skip(f"the official CL simulator's recording is not beside the checkout ({CL_FIXTURE}); "
                    "the cross-checks against it are skipped")
    return CL_FIXTURE


@pytest.fixture(scope="session")
def cl_expected() -> dict:
    """What the official cl.RecordingView returns for the fixture."""
    if not CL_EXPECTED.exists():
        pytest.skip(f"the official reader's answers are not beside the checkout ({CL_EXPECTED}); "
                    "the cross-checks against them are skipped")
    return json.loads(CL_EXPECTED.read_text())["sim_small_recording.h5"]


@pytest.fixture(scope="session")
def other_recording(tmp_path_factory) -> Path:
    """A second recording, unlike ``small_recording``: the official simulator's when it is beside
    the checkout, else one written by cldata's writer (so the suite needs nothing outside it)."""
    if CL_FIXTURE.exists():
        return CL_FIXTURE
    path = tmp_path_factory.mktemp("other") / "other.h5"
    write_small_recording(path, n_ball=120, seed=11)
    return path


def to_expected_json(value):
    """A decoded value in the expected.json notation (numpy arrays as {'ndarray', 'shape', 'data'})."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.dtype.str, "shape": list(value.shape), "data": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, dict):
        return {str(k): to_expected_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_expected_json(v) for v in value]
    return value


def write_small_recording(path: Path, *, n_ball: int = 200, samples: bool = True, seed: int = 7) -> dict:
    """Write a recording like the CL fixture with cldata's writer; return what was written."""
    rng = np.random.default_rng(seed)
    written = {
        "ball": [(5 + 3 * i, {"x": i * 0.5, "y": 200.0 - i, "hit": i % 7 == 0}) for i in range(n_ball)],
        "score": [(1, 0), (2, np.arange(6, dtype=np.uint64) * 2**40), (3, ["goal", 1, 2.5, None]), (4, "final")],
        "spike_ts": np.sort(rng.integers(0, 12_500, 32)),
        "spike_ch": rng.integers(0, 64, 32).astype(np.uint8),
        "stim_ts": np.array([2, 2, 2]),
        "stim_ch": np.array([8, 9, 10]),
    }
    written["waveforms"] = rng.normal(0, 5, (32, 75)).astype(np.float32)
    written["samples"] = rng.integers(-300, 300, (12_500, 64)).astype(np.int16) if samples else None
    with cldata.RecordingWriter(path, attributes={"experiment": "pong", "culture": "C7", "session": 3}) as w:
        ball = w.create_data_stream("ball_position", {"units": "px", "arena": [640, 480]})
        score = w.create_data_stream("score", {"score": 0, "player": "culture-7"})
        for t, v in written["ball"]:
            ball.append(t, v)
        for t, v in written["score"]:
            score.append(t, v)
        score.update_attributes({"score": 3, "final": True})
        w.append_spikes(written["spike_ts"], written["spike_ch"], written["waveforms"])
        w.append_stims(written["stim_ts"], written["stim_ch"])
        if samples:
            w.append_samples(written["samples"])
    return written


@pytest.fixture
def small_recording(tmp_path: Path) -> tuple[Path, dict]:
    """A fresh recording written by cldata, and what went into it."""
    path = tmp_path / "small.h5"
    return path, write_small_recording(path)


def forge_checksums(root: Path) -> None:
    """Recompute a store's catalog checksums after a test edited or damaged a segment, as a
    careful attacker would (segments that no longer exist are left out)."""
    from cldata.backends.base import file_crc32
    from cldata.backends.segmented import current_crc32

    current = root / "catalog" / "CURRENT"
    state = json.loads(current.read_text())
    state["checksums"] = {n: file_crc32(root / "catalog" / n) for n in state["segments"]
                          if (root / "catalog" / n).is_file()}
    state["crc32"] = current_crc32(state)
    current.write_text(json.dumps(state))


def forge_copy_locations(root: Path) -> None:
    """Record the current size and CRC-32 of every copied recording in a store's catalog, as a careful
    attacker who edited a copy would (opening compares a copy's size; ``check`` its CRC-32)."""
    from cldata.backends.base import file_crc32
    from cldata.backends.registry import get_backend
    from cldata.backends.segment_ops import row_ops

    if catalog_of(root) != "backend":
        def forge(records):
            for record in records:
                location = record.get("location")
                if isinstance(location, dict) and location.get("kind") == "copy":
                    copy = root / location["path"]
                    location["size"], location["crc32"] = copy.stat().st_size, file_crc32(copy)

        edit_records(root, forge)
        return
    backend = get_backend(json.loads((root / "cldata-store.json").read_text())["backend"])(root, writable=True)
    current = json.loads((root / "catalog" / "CURRENT").read_text())
    for name in current["segments"]:
        segment = root / "catalog" / name
        ops = row_ops(backend.read_segment(segment))
        for op in ops:
            location = op.get("record", {}).get("location") if op.get("op") == "add" else None
            if isinstance(location, dict) and location.get("kind") == "copy":
                copy = root / location["path"]
                location["size"], location["crc32"] = copy.stat().st_size, file_crc32(copy)
        segment.unlink()
        backend.write_segment(segment, ops)
    forge_checksums(root)


def fingerprint(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of its content (directories: ``dir``)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# -- the two catalogs ---------------------------------------------------------------------------------
#
# A store keeps its catalog in SQLite (``catalog.sqlite``, the default since version 2) or, made
# before, in the backend's own segment log (``catalog/CURRENT`` and segments: the "backend" catalog,
# still created with ``catalog="backend"``). Tests that craft or damage the segment log make their
# store with ``catalog="backend"``; tests of a guarantee that holds for both run over ``CATALOGS``.

CATALOGS = ("sqlite", "backend")


def catalog_of(root: Path) -> str:
    """The catalog engine a store's marker names (``"backend"`` for a store made before version 2)."""
    return json.loads((Path(root) / "cldata-store.json").read_text()).get("catalog", "backend")


def edit_records(root: Path, edit) -> None:
    """Let ``edit`` change a store's committed catalog records (a list of plain dicts, recordings
    first, as :meth:`cldata.model.catalog.RecordingEntry.to_record` makes them) and write them back, as a
    stranger with write access to the store's files can: in a SQLite catalog through the engine's
    own interface (an edited entry is replaced, a payload reference set in place), in a segment log
    as one segment with forged checksums (the store must have one segment: a fresh store)."""
    import copy

    root = Path(root)
    if catalog_of(root) == "backend":
        from cldata.backends.registry import get_backend
        from cldata.backends.segment_ops import row_ops

        backend = get_backend(json.loads((root / "cldata-store.json").read_text())["backend"])(root, writable=True)
        state = json.loads((root / "catalog" / "CURRENT").read_text())
        assert len(state["segments"]) == 1, "edit_records edits a store of one segment"
        segment = root / "catalog" / state["segments"][0]
        ops = row_ops(backend.read_segment(segment))
        edit([op["record"] for op in ops if op.get("op") == "add"])
        segment.unlink()
        backend.write_segment(segment, ops)
        forge_checksums(root)
        return
    from cldata.model.engines.sqlite import SQLiteEngine

    engine = SQLiteEngine(root, writable=True)
    engine.open()
    try:
        gen = engine.generation()
        rows = engine.result_rows(gen)
        found = engine.results(gen, rows)
        records = [*engine.recordings(gen), *(found[r] for r in rows)]
        before = copy.deepcopy(records)
        edit(records)
        for old, new in zip(before, records):
            if new is old or _same(new, old):
                continue
            if old.get("kind") == "recording":
                engine.remove_recording(old["id"])
                engine.add_recording(new)
                continue
            row = engine.row_of(gen, old["id"])
            if _same({k: v for k, v in new.items() if k != "payload"}, {k: v for k, v in old.items() if k != "payload"}):
                engine.set_payloads({row: new.get("payload")})
                continue
            engine.remove_result(row)
            (row,) = engine.add_results([new])
            if new.get("payload") is not None:
                engine.set_payloads({row: new["payload"]})
        engine.commit()
    finally:
        engine.close()


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # a value whose comparison fails (an array, a hostile object): it was edited
        return False


def committed_generation(root: Path) -> int:
    """The generation of a store's last commit, as a reader of its catalog sees it (SQLite: through the
    engine; a segment log: its CURRENT)."""
    root = Path(root)
    if catalog_of(root) == "backend":
        return json.loads((root / "catalog" / "CURRENT").read_text())["generation"]
    from cldata.model.engines.sqlite import SQLiteEngine

    engine = SQLiteEngine(root, writable=False)
    engine.open()
    try:
        return engine.generation()
    finally:
        engine.close()
