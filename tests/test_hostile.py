"""Hostile files: stores, attributes, parameter files and payloads crafted to run code, write
files or escape the store directory.

Each test loads a crafted file and proves that nothing ran and nothing was written outside:
the marker file the payload would create is absent, and the listing of ``tmp_path`` is what
it was (apart from the store's own lock files). A real attack creates the marker when loaded
with plain ``pickle`` / ``msgpack_numpy`` (checked once, as a canary, so the payloads are
known to be live).

Paths from store *files* (catalog records, ``catalog/CURRENT``, export catalogs) must not
reach outside the store; recordings added with ``link=True`` legitimately live outside
(by design) and are checked only to keep working.

A bug found here is pinned by a test marked ``xfail(strict=True)`` with the cause in the reason;
once fixed, the test stays as a regression test whose docstring says what it guards ("Once: ...").
All the bugs found so far are fixed: refusals that did not name their file, symlinks inside a
store that were followed (reads, copies, lock files, and garbage collection deleting files
outside the store), pickles allocating arrays of any shape, and pickled units registered
for the whole process.
"""

from __future__ import annotations

import builtins
import copyreg
import importlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
import quantities as pq
import tables

import cldata
from cldata.backends.segmented import current_crc32
from cldata.errors import (
    CldataError,
    DecodeError,
    NotARecordingError,
    ParameterError,
    StoreFormatError,
    UnsafeContentError,
)
from conftest import CATALOGS, edit_records, forge_checksums, forge_copy_locations

# --- helpers ---------------------------------------------------------------------------------------------


class Reduce:
    """Pickles as ``func(*args)``: what a hostile pickle asks the loader to call."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def listing(root: Path) -> set[str]:
    """Every path under ``root`` (lock files of stores aside), symlinks not followed."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            if name not in (".lock", ".readers"):
                out.add(str(Path(dirpath, name).relative_to(root)))
    return out


def write_recording(path: Path, **attributes) -> Path:
    with cldata.RecordingWriter(path, attributes={"culture": "C7", **attributes}, channel_count=4, durable=False) as w:
        w.create_data_stream("score", {"player": "p"}).extend([1, 2], [0, {"x": 1.5}])
        w.append_spikes([3, 7], [0, 1], np.zeros((2, 75), np.float32))
        w.append_stims([2], [1])
        w.append_samples(np.zeros((50, 4), np.int16))
    return path


def segment_of(root: Path) -> Path:
    state = json.loads((root / "catalog" / "CURRENT").read_text())
    assert len(state["segments"]) == 1
    return root / "catalog" / state["segments"][0]


def rewrite_records(root: Path, edit) -> None:
    """Let ``edit`` change the (trusted, just written) catalog records; write them back as a stranger can
    (a segment log: checksums forged; a SQLite catalog: through its engine)."""
    edit_records(root, edit)


class Sandbox:
    """``marker``: the file a hostile payload would create. ``snapshot()`` records the listing
    of ``tmp_path`` once the hostile files are in place; ``check()`` then asserts that the
    marker is absent and that loading created or removed nothing (lock files aside)."""

    def __init__(self, root: Path):
        self.root = root
        self.marker = root / "pwned"
        self.before = listing(root)

    def snapshot(self) -> None:
        self.before = listing(self.root)

    def check(self) -> None:
        assert not self.marker.exists(), "the hostile payload ran"
        after = listing(self.root)
        assert after == self.before, (f"loading changed the directory: appeared {sorted(after - self.before)}, "
                                      f"vanished {sorted(self.before - after)}")


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def rec(tmp_path) -> Path:
    return write_recording(tmp_path / "rec.h5")


def make_store(tmp_path: Path, rec: Path, backend: str = "hdf5", big_payload: bool = False,
               catalog: str | None = None) -> Path:
    """A small store; ``catalog="backend"`` for a store whose catalog is the backend's segment log."""
    root = tmp_path / f"store-{backend}"
    with cldata.open(root, backend=backend, mode="a", catalog=catalog) as s:
        rid = s.add_recording(rec, {"culture": "C7"})
        s.add_analysis_result(cldata.Data("d", value={"a": 1}, sources=[rid]))
        if big_payload:
            s.add_analysis_result(cldata.TimeSeries("big", times=np.arange(20_000) * pq.ms,
                                                    values=np.ones(20_000) * pq.Hz, sources=[rid]))
    return root


# --- the exploits ------------------------------------------------------------------------------------------


def _raw(template: bytes):
    return lambda marker: template.replace(b"MARKER", str(marker).encode())


EXPLOITS = {
    # object form -> pickled with protocol 2 (GLOBAL + REDUCE) unless raw bytes
    "open": lambda m: Reduce(open, (str(m), "w")),
    "os.system": lambda m: Reduce(os.system, (f"touch {m}",)),
    "subprocess.Popen": lambda m: Reduce(subprocess.Popen, (["touch", str(m)],)),
    "subprocess.call": lambda m: Reduce(subprocess.call, (["touch", str(m)],)),
    "builtins.eval": lambda m: Reduce(builtins.eval, (f"open({str(m)!r}, 'w')",)),
    "builtins.exec": lambda m: Reduce(builtins.exec, (f"open({str(m)!r}, 'w')",)),
    "importlib.import_module": lambda m: Reduce(importlib.import_module, ("os",)),
    "copyreg._reconstructor(Popen)": lambda m: Reduce(copyreg._reconstructor, (subprocess.Popen, object, None)),
    "numpy._reconstruct(huge shape)": lambda m: Reduce(np._core.multiarray._reconstruct, (np.ndarray, (10**12,), b"b")),
    "STACK_GLOBAL": lambda m: pickle.dumps(Reduce(os.system, (f"touch {m}",)), protocol=4),
    "INST": _raw(b"(S'touch MARKER'\nios\nsystem\n."),
    "OBJ": _raw(b"(cos\nsystem\nS'touch MARKER'\no."),
    "EXT": lambda m: b"\x80\x02\x82\xf1X" + struct.pack("<I", len(f"touch {m}")) + f"touch {m}".encode() + b"\x85R.",
    "persistent_id": _raw(b"(S'touch MARKER'\nPsystem\n."),
    "neo internals, odd args": lambda m: Reduce(__import__("neo").core.spiketrain._new_spiketrain,
                                               (__import__("neo").SpikeTrain, np.array([1.0]), -5.0, pq.s)),
}


def exploit_bytes(name: str, marker: Path) -> bytes:
    obj = EXPLOITS[name](marker)
    return obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)


@pytest.fixture
def ext_code():
    """Register extension code 0xF1 for os.system, as a victim's process might have."""
    copyreg.add_extension("os", "system", 0xF1)
    yield
    copyreg.remove_extension("os", "system", 0xF1)


def test_the_exploits_are_live(tmp_path):
    """Canary: plain pickle really runs them (so a refusal below means something)."""
    marker = tmp_path / "canary"
    pickle.loads(exploit_bytes("open", marker)).close()
    assert marker.exists()
    marker.unlink()
    pickle.loads(exploit_bytes("INST", marker))
    assert marker.exists()


EXPLOIT_NAMES = list(EXPLOITS)


# --- pickle store ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exploit", EXPLOIT_NAMES)
def test_a_hostile_pickle_store_catalog_runs_nothing(exploit, tmp_path, rec, sandbox, ext_code):
    # the pickle backend's segment log is pickled (a SQLite catalog holds no pickle); opening it for
    # writing migrates it, which reads it too
    marker = sandbox.marker
    root = make_store(tmp_path, rec, "pickle", catalog="backend")
    payload = exploit_bytes(exploit, marker)
    if isinstance(EXPLOITS[exploit](marker), bytes):
        segment_of(root).write_bytes(payload)  # the whole segment is the exploit
    else:
        def edit(records):
            records[0]["parameters"]["culture"] = EXPLOITS[exploit](marker)

        rewrite_records(root, edit)
    forge_checksums(root)
    sandbox.snapshot()
    for mode in ("r", "a"):
        with pytest.raises((UnsafeContentError, StoreFormatError)) as info:
            cldata.open(root, mode=mode)
        if exploit != "neo internals, odd args":
            assert isinstance(info.value, UnsafeContentError) or "damaged" in str(info.value)
    sandbox.check()


@pytest.mark.parametrize("exploit", EXPLOIT_NAMES)
@pytest.mark.parametrize("where", ["inline", "payload file"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_hostile_pickle_store_payload_runs_nothing(exploit, where, catalog, tmp_path, rec, sandbox, ext_code):
    marker = sandbox.marker
    root = make_store(tmp_path, rec, "pickle", big_payload=True, catalog=catalog)
    payload = exploit_bytes(exploit, marker)
    if where == "inline":
        def edit(records):
            result = next(r for r in records if r.get("identifier") == "d")
            result["payload"] = {"inline": payload}
    else:
        big = next((root / "payloads").iterdir())
        from cldata.backends.pickled import PickleBackend

        backend = PickleBackend(root, writable=True)
        big.unlink()
        backend.write_blobs(big, {"k": payload})

        def edit(records):
            result = next(r for r in records if r.get("identifier") == "big")
            result["payload"] = {"file": big.name, "key": "k", "crc32": zlib.crc32(payload)}

    rewrite_records(root, edit)
    sandbox.snapshot()
    with cldata.open(root) as store:
        result = next(r for r in store.analysis_results if r.identifier == ("d" if where == "inline" else "big"))
        with pytest.raises((UnsafeContentError, StoreFormatError)):
            result.payload()
    sandbox.check()


# --- HDF5 attributes -------------------------------------------------------------------------------------------


def _set_hostile_attribute(path: Path, node: str, name: str, exploit: str, marker: Path) -> None:
    obj = EXPLOITS[exploit](marker)
    with tables.open_file(str(path), "a") as f:
        # an object is pickled by PyTables itself; raw opcodes go in as the bytes PyTables would have written
        f.get_node(node)._v_attrs[name] = np.bytes_(obj) if isinstance(obj, bytes) else obj


ATTRIBUTE_EXPLOITS = [e for e in EXPLOIT_NAMES if e != "neo internals, odd args"]


@pytest.mark.parametrize("exploit", ATTRIBUTE_EXPLOITS)
@pytest.mark.parametrize("node, name", [("/", "application"), ("/data_stream/score", "application"),
                                        ("/", "unknown_extra")])
def test_a_hostile_attribute_in_a_recording_runs_nothing(exploit, node, name, rec, sandbox, ext_code):
    marker = sandbox.marker
    _set_hostile_attribute(rec, node, name, exploit, marker)
    sandbox.snapshot()
    with pytest.raises(UnsafeContentError) as info:
        with cldata.RecordingView(rec) as view:
            view.data_streams["score"].attributes  # noqa: B018
    assert name in str(info.value) and str(rec) in str(info.value)
    with tables.open_file(str(rec)) as f:  # and plain PyTables, after importing cldata
        getattr(f.get_node(node)._v_attrs, name)
    sandbox.check()


@pytest.mark.parametrize("exploit", ["numpy._reconstruct(huge shape)", "persistent_id"])
def test_a_refused_pickle_says_where_it_was(exploit, rec, sandbox, ext_code):
    """Once: refusals raised by _bounded_reconstruct, persistent_load and the other guards of restricted_pickle did
    not name the file and attribute (only find_class used the unpickler's source)."""
    _set_hostile_attribute(rec, "/", "application", exploit, sandbox.marker)
    with pytest.raises(UnsafeContentError) as info:
        cldata.RecordingView(rec)
    assert "application" in str(info.value) and str(rec) in str(info.value)


@pytest.mark.parametrize("exploit", ["open", "os.system", "STACK_GLOBAL", "INST", "EXT"])
@pytest.mark.parametrize("target", ["catalog segment", "payload file", "export", "recording in an export",
                                    "recording in a store"])
def test_a_hostile_attribute_in_store_files_runs_nothing(exploit, target, tmp_path, rec, sandbox, ext_code):
    marker = sandbox.marker
    root = make_store(tmp_path, rec, "hdf5", big_payload=True, catalog="backend" if target == "catalog segment" else None)
    if target == "catalog segment":
        _set_hostile_attribute(segment_of(root), "/", "note", exploit, marker)
        forge_checksums(root)
        sandbox.snapshot()
        with pytest.raises(UnsafeContentError):
            cldata.open(root)
    elif target == "payload file":
        _set_hostile_attribute(next((root / "payloads").iterdir()), "/", "note", exploit, marker)
        sandbox.snapshot()
        with cldata.open(root) as store:
            with pytest.raises(UnsafeContentError):
                next(r for r in store.analysis_results if r.identifier == "big").payload()
    elif target == "recording in a store":
        _set_hostile_attribute(next((root / "recordings").iterdir()), "/", "application", exploit, marker)
        forge_copy_locations(root)
        sandbox.snapshot()
        with cldata.open(root) as store, pytest.raises(UnsafeContentError):
            store.recordings[0].view()
    else:
        export = tmp_path / "export.h5"
        with cldata.open(root) as store:
            store.export(export)
        if target == "export":
            _set_hostile_attribute(export, "/", "note", exploit, marker)
            sandbox.snapshot()
            with pytest.raises(UnsafeContentError):
                cldata.open(export)
        else:
            with tables.open_file(str(export)) as f:
                group = "/recordings/" + next(iter(f.root.recordings._v_children))
            _set_hostile_attribute(export, group, "application", exploit, marker)
            sandbox.snapshot()
            with cldata.open(export) as store, pytest.raises(UnsafeContentError):
                store.recordings[0].view()
    sandbox.check()


# --- msgpack payloads -------------------------------------------------------------------------------------------


def hostile_msgpack(marker: Path) -> bytes:
    """What msgpack_numpy writes for an object array: the array pickled. Its decode unpickles it."""
    data = pickle.dumps(Reduce(open, (str(marker), "w")), protocol=2)
    return msgpack.packb({b"nd": True, b"type": "|O", b"kind": b"O", b"shape": [1], b"data": data},
                         use_bin_type=True)


def test_the_msgpack_payload_is_live(tmp_path):
    import msgpack_numpy

    marker = tmp_path / "canary"
    msgpack.unpackb(hostile_msgpack(marker), object_hook=msgpack_numpy.decode)
    assert marker.exists()


def _write_stream_entry(path: Path, entry: bytes) -> None:
    with tables.open_file(str(path), "a") as f:
        g = f.root.data_stream.score
        n = g.data.nrows
        g.data.append(np.frombuffer(entry, dtype=np.uint8))
        row = g.index[-1:]
        row["timestamp"], row["start_index"], row["end_index"] = 100, n, n + len(entry)
        g.index.append(row)


@pytest.mark.parametrize("where", ["stream entry", "inline payload", "payload file", "export payload"])
def test_a_hostile_msgpack_payload_runs_nothing(where, tmp_path, rec, sandbox):
    marker = sandbox.marker
    entry = hostile_msgpack(marker)
    if where == "stream entry":
        _write_stream_entry(rec, entry)
        sandbox.snapshot()
        with cldata.RecordingView(rec) as view:
            assert view.data_streams["score"][1] == 0  # the other entries still read
            with pytest.raises(UnsafeContentError):
                view.data_streams["score"][100]
            with pytest.raises(UnsafeContentError):
                list(view.data_streams["score"].values())
        sandbox.check()
        return
    root = make_store(tmp_path, rec, "hdf5", big_payload=True)
    value = b"\x81\xa5value" + entry  # {"value": <object array>}
    if where == "inline payload":
        def edit(records):
            next(r for r in records if r.get("identifier") == "d")["payload"] = {"inline": value}

        rewrite_records(root, edit)
        sandbox.snapshot()
        opened = cldata.open(root)
    elif where == "payload file":
        from cldata.backends.hdf5 import HDF5Backend

        big = next((root / "payloads").iterdir())
        big.unlink()
        HDF5Backend(root, writable=True).write_blobs(big, {"k": value})

        def edit(records):
            next(r for r in records if r.get("identifier") == "d")["payload"] = {
                "file": big.name, "key": "k", "crc32": zlib.crc32(value)}

        rewrite_records(root, edit)
        sandbox.snapshot()
        opened = cldata.open(root)
    else:
        export = tmp_path / "export.h5"
        with cldata.open(root) as store:
            store.export(export)
        with tables.open_file(str(export), "a") as f:
            from cldata.backends.blobs import BlobTable, write_blob_table

            blobs = BlobTable(f, "/payloads")
            keys = [k.decode() for k in blobs._index["key"]]
            f.remove_node("/payloads", recursive=True)
            write_blob_table(f, "/payloads", keys, [value] * len(keys))
        sandbox.snapshot()
        opened = cldata.open(export)
    with opened as store:
        result = next(r for r in store.analysis_results if r.identifier == "d")
        with pytest.raises((UnsafeContentError, StoreFormatError)) as info:
            result.payload()
        assert "pickle" in str(info.value) or "object" in str(info.value)
    sandbox.check()


def test_an_msgpack_extension_type_is_refused(rec, sandbox):
    _write_stream_entry(rec, msgpack.packb(msgpack.ExtType(42, b"\x00" * 8)))
    sandbox.snapshot()
    with cldata.RecordingView(rec) as view, pytest.raises(DecodeError, match="extension"):
        view.data_streams["score"][100]
    sandbox.check()


# --- the recording journal -----------------------------------------------------------------------------------


def _journal(path: Path, records: list[dict]) -> Path:
    from cldata.format.codec import encode
    from cldata.format.journal import MAGIC

    jpath = path.with_name(path.name + ".journal")
    with open(jpath, "wb") as f:
        f.write(MAGIC)
        for record in records:
            payload = encode(record)
            f.write(struct.pack("<II", len(payload), zlib.crc32(payload)))
            f.write(payload)
    return jpath


@pytest.mark.parametrize("exploit", ["open", "os.system", "INST", "persistent_id"])
def test_a_hostile_journal_runs_nothing_when_recovered(exploit, tmp_path, sandbox):
    marker = sandbox.marker
    path = tmp_path / "crashed.h5"
    _journal(path, [{"op": "open", "root": exploit_bytes(exploit, marker)}])
    sandbox.snapshot()
    with pytest.raises(cldata.errors.UnfinishedRecordingError):
        cldata.RecordingView(path)
    with pytest.raises(CldataError):
        cldata.recover(path)
    sandbox.check()


# --- parameter files -----------------------------------------------------------------------------------------------

PARAMETER_FILES = {
    "import.param": "{'a': __import__('os').system('touch MARKER')}",
    "open.param": "{'a': open('MARKER', 'w')}",
    "exec.param": "{'a': exec(\"open('MARKER', 'w')\")}",
    "eval.param": "{'a': eval(\"open('MARKER', 'w')\")}",
    "lambda.param": "{'a': (lambda: open('MARKER', 'w'))()}",
    "comprehension.param": "{'a': [open('MARKER', 'w') for _ in 'x']}",
    "attribute.param": "{'a': ().__class__.__base__.__subclasses__()}",
    "fstring.param": "{'a': f\"{open('MARKER', 'w')}\"}",
    "walrus.param": "{'a': (x := open('MARKER', 'w'))}",
    "url-escape.param": "{'a': url('../outside.param')}",
    "url-absolute.param": "{'a': url('/etc/passwd')}",
    "url-scheme.param": "{'a': url('file:///etc/passwd')}",
    "apply.yaml": "a: !!python/object/apply:os.system ['touch MARKER']",
    "new.yaml": "a: !!python/object/new:subprocess.Popen [['touch', 'MARKER']]",
    "name.yaml": "a: !!python/name:os.system",
    "module.yaml": "a: !!python/module:os",
    "include-escape.json": '{"a": {"$include": "../outside.json"}}',
    "include-absolute.yaml": "a: {$include: /etc/passwd}",
}


@pytest.mark.parametrize("name", list(PARAMETER_FILES))
def test_a_hostile_parameter_file_runs_nothing(name, tmp_path, sandbox):
    marker = sandbox.marker
    sub = tmp_path / "param"
    sub.mkdir()
    (tmp_path / "outside.param").write_text("{'secret': 1}")
    (tmp_path / "outside.json").write_text('{"secret": 1}')
    path = sub / name
    path.write_text(PARAMETER_FILES[name].replace("MARKER", str(marker)))
    sandbox.snapshot()
    from cldata.batch.paramfile import load_parameters

    with pytest.raises(ParameterError, match=name.replace(".", r"\.")):
        load_parameters(path)
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "run", str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr[-500:]
    sandbox.check()


# --- paths that try to leave the store ----------------------------------------------------------------------------

ESCAPING_PATHS = ["../outside.h5", "../../outside.h5", "recordings/../../outside.h5", "/ABSOLUTE/outside.h5",
                  "recordings/../../../outside.h5"]


@pytest.mark.parametrize("path", ESCAPING_PATHS)
@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_recording_location_outside_the_store_is_refused(path, backend, catalog, tmp_path, rec):
    root = make_store(tmp_path, rec, backend, catalog=catalog)
    shutil.copy(rec, tmp_path / "outside.h5")
    target = path.replace("/ABSOLUTE", str(tmp_path))

    def edit(records):
        next(r for r in records if r["kind"] == "recording")["location"]["path"] = target

    rewrite_records(root, edit)
    files = listing(tmp_path)
    with cldata.open(root) as store:
        with pytest.raises(StoreFormatError, match="escapes the store"):
            store.recordings[0].view()
        with pytest.raises(StoreFormatError):
            store.export(tmp_path / "exported.h5")
    assert listing(tmp_path) == files


@pytest.mark.parametrize("name", ["../outside.pay", "../../outside.pay", "/ABSOLUTE/outside.pay", "a/b", "..", "",
                                  ".hidden"])
@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_payload_file_outside_the_store_is_refused(name, backend, catalog, tmp_path, rec):
    root = make_store(tmp_path, rec, backend, big_payload=True, catalog=catalog)
    (tmp_path / "outside.pay").write_bytes(b"secret")
    target = name.replace("/ABSOLUTE", str(tmp_path))

    def edit(records):
        next(r for r in records if r.get("identifier") == "big")["payload"]["file"] = target

    rewrite_records(root, edit)
    files = listing(tmp_path)
    with cldata.open(root) as store:
        with pytest.raises(StoreFormatError):
            next(r for r in store.analysis_results if r.identifier == "big").payload()
    assert listing(tmp_path) == files and (tmp_path / "outside.pay").read_bytes() == b"secret"


@pytest.mark.parametrize("segment", ["../x.h5", "../../x.h5", "/ABSOLUTE/x.h5", "..", ".", "a\\b", "sub/x.h5"])
@pytest.mark.parametrize("mode", ["r", "a"])
def test_current_naming_a_segment_outside_the_catalog_is_refused(segment, mode, tmp_path, rec):
    root = make_store(tmp_path, rec, catalog="backend")  # (opened for writing, it would migrate: it reads CURRENT)
    with cldata.open(root) as store:
        store.export(tmp_path / "x.h5")  # a readable HDF5 file where the escape would land
    name = segment.replace("/ABSOLUTE", str(tmp_path))
    forged = {"generation": 1, "segments": [name]}
    forged["crc32"] = current_crc32(forged)  # a careful attacker forges the checksum too
    (root / "catalog" / "CURRENT").write_text(json.dumps(forged))
    files = listing(tmp_path)
    with pytest.raises(StoreFormatError):
        cldata.open(root, mode=mode)
    assert listing(tmp_path) == files


def _set_export_group(export: Path, group) -> None:
    from cldata.backends.blobs import BlobTable, write_blob_table
    from cldata.format.codec import Encoder, decode_span

    with tables.open_file(str(export), "a") as f:
        table = BlobTable(f, "/catalog")
        records = decode_span(table.all_bytes(), len(table))
        for r in records:
            if r["kind"] == "recording":
                r["location"]["group"] = group
        f.remove_node("/catalog", recursive=True)
        enc = Encoder()
        write_blob_table(f, "/catalog", [""] * len(records), [enc.pack(r) for r in records])


@pytest.mark.parametrize("group", ["/catalog", "/payloads", "/", "recordings/x", "/recordings", "/recordings/",
                                   "/recordings/../catalog", "/recordings/x/../../catalog", "/recordings/missing",
                                   None, 5, ["/recordings/x"]])
def test_an_export_catalog_naming_groups_outside_recordings_is_refused(group, tmp_path, rec):
    root = make_store(tmp_path, rec)
    export = tmp_path / "export.h5"
    with cldata.open(root) as store:
        store.export(export)
    _set_export_group(export, group)
    with cldata.open(export) as store:
        with pytest.raises((StoreFormatError, NotARecordingError)):
            store.recordings[0].view()


@pytest.mark.parametrize("link", ["external link to another file", "soft link to /catalog",
                                  "external link for /spikes"])
def test_links_inside_an_export_do_not_reach_other_files(link, tmp_path, rec):
    root = make_store(tmp_path, rec)
    export = tmp_path / "export.h5"
    with cldata.open(root) as store:
        store.export(export)
        rid = store.recording_ids[0]
    outside = write_recording(tmp_path / "outside.h5", culture="OUTSIDE")
    with tables.open_file(str(export), "a") as f:
        if link == "external link for /spikes":
            f.remove_node(f"/recordings/{rid}/spikes")
            f.create_external_link(f"/recordings/{rid}", "spikes", f"{outside}:/spikes")
        else:
            f.remove_node(f"/recordings/{rid}", recursive=True)
            if link.startswith("external"):
                f.create_external_link("/recordings", rid, f"{outside}:/")
            else:
                f.create_soft_link("/recordings", rid, "/catalog")
    with cldata.open(export) as store:
        if link == "external link for /spikes":
            # tolerant reading (issue 11): the recording reads without the node it cannot
            # interpret, and says so; nothing is read through the link
            with pytest.warns(cldata.errors.UntidyRecordingWarning, match="/spikes is an ExternalLink"):
                view = store.recordings[0].view()
            assert view.spikes is None and len(view.read_spikes()) == 0
            return
        with pytest.raises((StoreFormatError, NotARecordingError, cldata.errors.CorruptRecordingError)):
            view = store.recordings[0].view()
            assert view.attributes["application"]["culture"] != "OUTSIDE", "read a file outside the export"
            view.read_spikes()


def test_linked_recordings_live_outside_by_design(tmp_path, rec, sandbox):
    """link=True keeps the recording where it is: that is a user's choice, not a store file's."""
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(rec, link=True)
    sandbox.snapshot()
    with cldata.open(root) as store:
        assert store.recordings[0].path == rec.resolve()
        assert store.recordings[0].view().read_spikes().size == 2
    sandbox.check()


# --- symlinks -------------------------------------------------------------------------------------------------------


def _move_out(root: Path, name: str, outside: Path) -> None:
    """Replace ``root/name`` (a directory or file) by a symlink to a copy outside the store."""
    src = root / name
    dst = outside / name.replace("/", "_")
    shutil.move(str(src), dst)
    os.symlink(dst, src)


@pytest.mark.parametrize("directory", ["recordings", "payloads", "catalog"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_garbage_collection_never_deletes_files_outside_the_store(directory, catalog, tmp_path, rec):
    """Once (data loss): collect_garbage() followed a symlinked recordings/, payloads/ or catalog/ directory and
    deleted every file there that the catalog did not name: opening such a store for writing deleted files
    outside the store. (A SQLite store has no catalog/ directory: a planted link to one goes as a leftover
    of a migration, as a link, never followed.)"""
    root = make_store(tmp_path, rec, big_payload=True, catalog=catalog)
    outside = tmp_path / "outside"
    outside.mkdir()
    if not (root / directory).exists():
        (outside / directory).mkdir()
        os.symlink(outside / directory, root / directory)
    else:
        _move_out(root, directory, outside)
    precious = outside / directory / "precious.txt"
    precious.write_text("not the store's")
    try:
        cldata.open(root, mode="a").close()
    except CldataError:
        pass  # refusing the store is fine
    assert precious.exists()


@pytest.mark.parametrize("what, catalog", [
    *((w, c) for w in ("recordings/<id>.h5", "payloads/<file>", "recordings", "payloads") for c in CATALOGS),
    ("catalog/CURRENT", "backend"), ("catalog", "backend"), ("catalog.sqlite", "sqlite")])
def test_store_files_that_are_symlinks_to_outside_are_refused(what, catalog, tmp_path, rec):
    """Once: store files and directories that are symlinks to outside the store were followed (only '..' and
    absolute names were checked), so a crafted store read files outside its directory."""
    root = make_store(tmp_path, rec, big_payload=True, catalog=catalog)
    outside = tmp_path / "outside"
    outside.mkdir()
    name = {"recordings/<id>.h5": str(next((root / "recordings").iterdir()).relative_to(root)),
            "payloads/<file>": str(next((root / "payloads").iterdir()).relative_to(root))}.get(what, what)
    _move_out(root, name, outside)
    with pytest.raises(StoreFormatError):
        with cldata.open(root) as store:
            store.recordings[0].view()
            for result in store.analysis_results:
                result.payload()


def test_adding_a_recording_never_writes_through_a_symlinked_directory(tmp_path, rec):
    """Once: put_recording() copied into recordings/ even when it was a symlink to a directory outside the store:
    add_recording wrote outside the store."""
    root = make_store(tmp_path, rec)
    outside = tmp_path / "outside"
    outside.mkdir()
    _move_out(root, "recordings", outside)
    before = set(os.listdir(outside / "recordings"))
    other = write_recording(tmp_path / "other.h5", culture="C8")
    try:
        with cldata.open(root, mode="a") as store:
            store.add_recording(other)
    except CldataError:
        pass
    assert set(os.listdir(outside / "recordings")) == before


@pytest.mark.parametrize("lock, mode", [(".lock", "a"), (".readers", "r")])
def test_lock_files_that_are_dangling_symlinks_create_nothing_outside(lock, mode, tmp_path, rec):
    """Once: FileLock opened its file with O_CREAT, following symlinks: a dangling symlink .lock / .readers in a
    crafted store created a file outside it."""
    root = make_store(tmp_path, rec)
    (root / lock).unlink(missing_ok=True)
    target = tmp_path / "created-by-a-lock"
    os.symlink(target, root / lock)
    try:
        cldata.open(root, mode=mode).close()
    except CldataError:
        pass
    assert not target.exists()


# --- allocation and global state through the allow-lists ---------------------------------------------------------------


@pytest.mark.parametrize("case", ["attribute: numpy.ndarray(16) (uninitialised memory)",
                                  "attribute: numpy.ndarray(10**13)",
                                  "pickle store: copyreg._reconstructor(ndarray, ndarray, 10**13)",
                                  "pickle store: quantities _reconstruct_quantity(10**13)"])
def test_pickles_cannot_build_arrays_of_any_shape(case, tmp_path, rec):
    """Once: numpy.ndarray was callable through the attribute allow-list, and copyreg._reconstructor / quantities'
    _reconstruct_quantity through the pickle one: a 60-byte pickle allocated any shape (bypassing the _reconstruct
    shape check), giving uninitialised memory, MemoryError, or (for an attribute) the raw pickle bytes as the
    value, instead of UnsafeContentError."""
    from quantities import quantity

    if case.startswith("attribute"):
        shape = (16,) if "(16)" in case else (10**13,)
        with tables.open_file(str(rec), "a") as f:
            f.root._v_attrs["application"] = {"culture": "C7", "blob": Reduce(np.ndarray, (shape, np.dtype("u1")))}
        with pytest.raises(UnsafeContentError):
            cldata.RecordingView(rec)
        return
    root = make_store(tmp_path, rec, "pickle", catalog="backend")  # the segment log is pickled; SQLite holds no pickle
    if "copyreg" in case:
        hostile = Reduce(copyreg._reconstructor, (np.ndarray, np.ndarray, (10**13,)))
    else:
        hostile = Reduce(quantity._reconstruct_quantity, (pq.Quantity, np.ndarray, (10**13,), "b"))

    def edit(records):
        records[0]["parameters"]["culture"] = hostile

    rewrite_records(root, edit)
    with pytest.raises(UnsafeContentError):
        cldata.open(root)


@pytest.mark.parametrize("how", ["a pickled UnitQuantity", "copyreg._reconstructor(UnitQuantity)"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_loading_a_pickle_store_registers_no_units(how, catalog, tmp_path, rec):
    """Once: UnitQuantity classes on the pickle allow-list registered their name (and symbol, aliases) in
    quantities' global unit registry when unpickled: loading a store changed how every later unit string was
    parsed in the process."""
    name = f"hostile_unit_{how[0]}_{os.getpid()}"
    from quantities.registry import unit_registry

    registry = unit_registry._UnitRegistry__registry._Registry__context
    if how.startswith("a pickled"):
        unit = pq.UnitQuantity(name, 3 * pq.m, symbol=f"{name}_sym")
        payload = pickle.dumps({"value": 2 * unit}, protocol=2)
        registry.pop(name)
        registry.pop(f"{name}_sym")
    else:
        payload = pickle.dumps({"value": Reduce(copyreg._reconstructor, (pq.UnitQuantity, pq.UnitQuantity, name))},
                               protocol=2)
    root = make_store(tmp_path, rec, "pickle", catalog=catalog)

    def edit(records):
        next(r for r in records if r.get("identifier") == "d")["payload"] = {"inline": payload}

    rewrite_records(root, edit)
    assert name not in registry
    with cldata.open(root) as store:
        try:
            store.analysis_results[0].payload()
        except CldataError:
            pass
    assert name not in registry


# --- importing cldata leaves pickle alone ---------------------------------------------------------------------------


def test_importing_cldata_changes_neither_pickle_nor_its_behaviour(tmp_path):
    """Only PyTables' own unpickling (``tables.attributeset.pickle`` for attributes, ``tables.atom.pickle``
    for object rows) is guarded: user code keeps the real pickle module,
    which still loads everything (it is not made "safe") and is not broken."""
    marker = tmp_path / "ran"
    code = textwrap.dedent(f"""
        import copyreg, io, os, pickle, sys
        # cldata's dependencies register their own pickle support when imported: import them first
        # (``parameters`` imports scipy when it is installed, which registers pickle reducers)
        import msgpack, msgpack_numpy, neo, numpy, parameters, quantities, tables, tqdm, yaml
        loads, load, Unpickler, dumps = pickle.loads, pickle.load, pickle.Unpickler, pickle.dumps
        find_class = pickle.Unpickler.find_class if hasattr(pickle.Unpickler, "find_class") else None
        dispatch, extensions = dict(copyreg.dispatch_table), dict(copyreg._extension_registry)
        import tables.attributeset
        import cldata
        assert sys.modules["pickle"] is pickle
        assert (pickle.loads, pickle.load, pickle.Unpickler, pickle.dumps) == (loads, load, Unpickler, dumps)
        assert getattr(pickle.Unpickler, "find_class", None) is find_class
        assert dict(copyreg.dispatch_table) == dispatch and dict(copyreg._extension_registry) == extensions
        assert tables.attributeset.pickle is not pickle and tables.attributeset.pickle.loads is not pickle.loads
        import tables.atom
        assert tables.atom.pickle is not pickle and tables.atom.pickle.loads is not pickle.loads
        assert tables.atom.pickle.dumps is pickle.dumps

        class Point:
            def __init__(self, x):
                self.x = x

        # not broken: a user class round-trips
        assert pickle.loads(pickle.dumps(Point(3))).x == 3
        # not made "safe" either: plain pickle still calls what a pickle names (user code decides)
        data = b"cbuiltins\\nopen\\n(S'{marker}'\\nS'w'\\ntR."
        pickle.loads(data).close()
        assert os.path.exists({str(marker)!r})
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-1500:]


def test_importing_cldata_does_not_import_parameters_or_scipy():
    """``import cldata`` stays light: ``parameters`` (and through it scipy, half a second and
    its own pickle reducers) is imported only by batch runs and parameter files."""
    code = "import sys, cldata, cldata.query; print(sorted({'parameters', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "[]"
