"""Bounded unpickling: pickles that allocate, expand or never end are refused (issue 10, finding 6).

cldata loads pickles from files in three places, all through :mod:`cldata.core.safe_pickle`:
PyTables node attributes (a recording's ``application`` dicts), and the ``pickle`` store
backend's catalog segments (records and their parameters) and payloads (inline and in payload
files). The allow-list keeps code from running; these tests are about what allowed objects can
still do when a crafted file asks for it:

- **allocation bombs** through dtypes: ``_reconstruct(ndarray, (1,), dtype(('u1', (2**31-1,))))``
  is a 191-byte attribute that used to load as a 2 GB array (``add_recording`` reached 19.6 GB);
  huge item sizes (``V``, ``S``, ``U``, structured) likewise;
- **shared-reference trees** ("billion laughs"): each level a pair of memo references to the
  level below, 40 levels in ~300 bytes, loaded fine and then hung every walk of the value
  (``attributes.to_dict()``, ``cldata info``, ``add_recording``);
- **cycles and deep nesting**: a list containing itself raised ``RecursionError`` in those walks;
- what the loader itself calls: ``str()`` of a shared tree, a claimed length of a terabyte.

Each crafted file is used in a child process under ``RLIMIT_AS`` = 1.5 GB with a 30 s timeout
(``run_child``): the child reports, for every operation, the exception it ended with, and the test
asserts a ``cldata.errors`` exception (never ``MemoryError``, ``RecursionError``, a hang, or a
load). Unit tests pin the documented limits (``PickleLimits``: just under loads, just over is
refused), and a hypothesis property checks that legitimate values still round-trip.

The numpy cases (dtype state changed after use, fields outside the item size, flags that claim
objects, an array's state set twice) would corrupt memory if they got through, so they too run
in a child: a crash there is a failure, not the end of the test run.
"""

from __future__ import annotations

import copyreg
import json
import math
import os
import pickle
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy._core.multiarray import _reconstruct, scalar
from test_hostile import make_store, rewrite_records, segment_of, write_recording

import cldata
from cldata.backends.pickled import PICKLE_ALLOWLIST, PickleBackend
from cldata.core.safe_pickle import ATTRIBUTE_ALLOWLIST, DEFAULT_LIMITS, PickleLimits, safe_loads
from cldata.errors import ContentLimitError, ParameterError, UnsafeContentError
from conftest import CATALOGS, forge_checksums

CHILD_MEMORY = 3 << 29  # RLIMIT_AS of a child: 1.5 GiB
CHILD_SECONDS = 30


class Reduce:
    """Pickles as ``func(*args)`` (with ``state`` applied by BUILD, if given)."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


# --- hostile pickles, as raw bytes ------------------------------------------------------------------------


def dtype_bomb(spec) -> bytes:
    """numpy's own array-pickle opening, asking for one item of a huge dtype (191 bytes for the sub-array one)."""
    return pickle.dumps(Reduce(_reconstruct, (np.ndarray, (1,), np.dtype(spec))), protocol=2)


def shared_pairs(levels: int = 40, kind: bytes = b"l") -> bytes:
    """Level i is a list (or tuple) of two memo references to level i-1: 2**levels leaves, ~7 bytes a level."""
    out = bytearray(b"\x80\x04]\x94")  # level 0: an empty list, memo 0
    for i in range(levels):
        out += b"(h" + bytes([i]) + b"h" + bytes([i]) + kind + b"\x94"  # MARK BINGET BINGET LIST|TUPLE MEMOIZE
    return bytes(out + b".")


def str_of_shared_tree(levels: int = 30) -> bytes:
    """``str()`` of a shared tree, called while loading: its repr would be 2**30 lists long."""
    tree = shared_pairs(levels)[:-1]
    return tree + b"\x8c\x08builtins\x8c\x03str\x93h" + bytes([levels]) + b"\x85R."


def deep_nesting(levels: int = 20_000) -> bytes:
    return b"\x80\x04" + b"]" * levels + b"a" * (levels - 1) + b"."


def shared_tuple_key(levels: int = 40, how: str = "dict key") -> bytes:
    """A shared tuple tree used as a dict key (or set member): the C unpickler hashes it, 2**levels steps."""
    out = bytearray(b"\x80\x04)\x94")  # level 0: the empty tuple, memo 0
    for i in range(levels):
        out += b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86\x94"  # BINGET BINGET TUPLE2 MEMOIZE
    top = b"h" + bytes([levels])
    if how == "dict key":
        return bytes(out + b"}" + top + b"K\x01s.")  # EMPTY_DICT key 1 SETITEM
    return bytes(out + b"\x8f(" + top + b"\x90.")  # EMPTY_SET MARK key ADDITEMS


def deep_tuple_key(levels: int = 200_000) -> bytes:
    """A tuple nested ``levels`` deep as a dict key: hashing it overflows the C stack (plain pickle crashes)."""
    return b"\x80\x04}" + b")" + b"\x85" * levels + b"K\x01s."


BOMBS: dict[str, bytes] = {
    "dtype sub-array of 2 GB items": dtype_bomb(("u1", (2**31 - 1,))),
    "dtype V2147483647": dtype_bomb("V2147483647"),
    "dtype S2147483647": dtype_bomb("S2147483647"),
    "dtype U536870911": dtype_bomb("U536870911"),
    "structured dtype of huge fields": dtype_bomb([("a", "V1073741824"), ("b", "V1073741824")]),
    "shared lists, 40 levels": shared_pairs(40),
    "shared tuples, 40 levels": shared_pairs(40, b"t"),
    "list containing itself": b"\x80\x04]\x94h\x00a.",
    "dict containing itself": b"\x80\x04}\x94\x8c\x01dh\x00s.",
    "tuple in a list containing it": b"\x80\x04]\x94(h\x00t\x94a.",
    "nesting 20,000 deep": deep_nesting(),
    "str() of a shared tree": str_of_shared_tree(),
    "claimed length of 1 TB": b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"x.",
    "shared tuple tree as a dict key": shared_tuple_key(40),
    "shared tuple tree as a set member": shared_tuple_key(40, "set member"),
    "memo index 100,000,000": b"\x80\x02Nr" + struct.pack("<I", 10**8) + b".",  # plain pickle fills 1.5 GB
    "tuple nested 200,000 deep as a dict key": deep_tuple_key(),
}
# too large for an HDF5 attribute (64 kB): used in the pickle store only
STORE_ONLY = {"tuple nested 200,000 deep as a dict key"}


def _nested(levels: int, pair) -> object:
    value: object = [0]
    for _ in range(levels):
        value = pair(value)
    return value


def _containing_itself(kind: str) -> object:
    if kind == "list":
        value: list = []
        value.append(value)
        return value
    d: dict = {}
    d["d"] = d
    return d


# the same bombs as values inside a record the store's own pickler writes (catalog parameters)
OBJECT_FORMS = {
    "dtype sub-array of 2 GB items": lambda: Reduce(_reconstruct, (np.ndarray, (1,), np.dtype(("u1", (2**31 - 1,))))),
    "dtype V2147483647": lambda: Reduce(_reconstruct, (np.ndarray, (1,), np.dtype("V2147483647"))),
    "structured dtype of huge fields": lambda: Reduce(
        _reconstruct, (np.ndarray, (1,), np.dtype([("a", "V1073741824"), ("b", "V1073741824")]))),
    "shared lists, 40 levels": lambda: _nested(40, lambda x: [x, x]),
    "shared tuples, 40 levels": lambda: _nested(40, lambda x: (x, x)),
    "list containing itself": lambda: _containing_itself("list"),
    "dict containing itself": lambda: _containing_itself("dict"),
    "nesting 20,000 deep": lambda: _nested(300, lambda x: [x]),
    "str() of a shared tree": lambda: Reduce(str, (_nested(30, lambda x: [x, x]),)),
}


# --- the child process ---------------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import contextlib, io, json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
    import cldata, cldata.app.cli
    from cldata.errors import CldataError

    def view(path):
        with cldata.RecordingView(path) as rec:
            rec.attributes.to_dict()
            for stream in rec.data_streams.values():
                stream.attributes.to_dict()

    def add(path, store):
        with cldata.open(store, mode="a") as s:
            s.add_recording(path)

    def open_store(path):
        with cldata.open(path) as s:
            for r in list(s.recordings) + list(s.analysis_results):
                dict(r.parameters)
            for r in s.analysis_results:
                r.payload()

    def info(path):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cldata.app.cli.main(["info", path])
        return status, err.getvalue()

    def loads(hexdata, allowlist):
        from cldata.core.safe_pickle import safe_loads, ATTRIBUTE_ALLOWLIST
        from cldata.backends.pickled import PICKLE_ALLOWLIST
        value = safe_loads(bytes.fromhex(hexdata), PICKLE_ALLOWLIST if allowlist == "pickle" else ATTRIBUTE_ALLOWLIST)
        return repr(type(value))

    results = []
    for job in json.loads(sys.stdin.read()):
        what, args = job[0], job[1:]
        try:
            if what == "info":
                status, err = info(*args)
                results.append({{"outcome": "info", "status": status, "stderr": err[:400]}})
                continue
            value = {{"view": view, "add": add, "open": open_store, "loads": loads}}[what](*args)
            results.append({{"outcome": "ok", "value": value}})
        except BaseException as exc:
            results.append({{"outcome": type(exc).__name__, "cldata": isinstance(exc, CldataError),
                             "message": str(exc)[:300]}})
    print(json.dumps(results))
""").format(memory=CHILD_MEMORY)


def run_child(jobs: list[list[str]]) -> list[dict]:
    """Run ``jobs`` in a child under RLIMIT_AS = 1.5 GB; fail on a crash or after 30 s."""
    try:
        out = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(jobs), capture_output=True, text=True,
                             timeout=CHILD_SECONDS, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child did not finish within {CHILD_SECONDS} s: {jobs}")
    assert out.returncode == 0, f"the child crashed ({out.returncode}): {out.stderr[-2000:]}"
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == len(jobs)
    return results


def assert_refused(job: list[str], result: dict) -> None:
    if result["outcome"] == "info":
        # a store's summary reads no payloads: it may describe a store whose payload is a bomb
        payload = job[1].endswith("payload") or job[1].endswith("payload file")
        assert result["status"] == 1 and result["stderr"].startswith("cldata info:") \
            or payload and result["status"] == 0, (job, result)
        return
    assert result["outcome"] != "ok", f"{job[0]} loaded a hostile file: {job}"
    assert result["cldata"], f"{job[0]} ended in {result['outcome']}, not a cldata error: {result['message']}"


# --- crafted files -------------------------------------------------------------------------------------------


def plant_attribute(path: Path, node: str, name: str, data: bytes) -> None:
    """Set ``name`` on ``node`` to the raw pickle ``data``, as PyTables would have written it."""
    with tables.open_file(str(path), "a") as f:
        f.get_node(node)._v_attrs[name] = np.bytes_(data)


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A pickle store whose catalog is the backend's (pickled) segment log."""
    tmp = tmp_path_factory.mktemp("base")
    return make_store(tmp, write_recording(tmp / "rec.h5"), "pickle", big_payload=True, catalog="backend")


@pytest.fixture(scope="module")
def base_sqlite_store(tmp_path_factory) -> Path:
    """A pickle store whose catalog is SQLite (no pickle in its catalog: its payloads are pickled)."""
    tmp = tmp_path_factory.mktemp("base-sqlite")
    return make_store(tmp, write_recording(tmp / "rec.h5"), "pickle", big_payload=True)


def hostile_stores(base: Path, tmp: Path, bomb: str, base_sqlite: Path) -> dict[str, Path]:
    """Copies of a pickle store with the bomb as the whole catalog segment, inside a record's parameters,
    as an inline payload and as a payload in a payload file; the payloads in a SQLite store too."""
    data = BOMBS[bomb]
    stores = {}

    def copy(name: str, source: Path = base) -> Path:
        stores[name] = tmp / name
        shutil.copytree(source, stores[name])
        return stores[name]

    root = copy("segment")
    segment_of(root).write_bytes(data)
    forge_checksums(root)
    if bomb in OBJECT_FORMS:
        def in_parameters(records):
            records[0]["parameters"]["culture"] = OBJECT_FORMS[bomb]()

        rewrite_records(copy("parameters"), in_parameters)

    def inline(records):
        next(r for r in records if r.get("identifier") == "d")["payload"] = {"inline": data}

    for prefix, source in (("", base), ("sqlite ", base_sqlite)):
        rewrite_records(copy(f"{prefix}inline payload", source), inline)
        root = copy(f"{prefix}payload file", source)
        big = next((root / "payloads").iterdir())
        big.unlink()
        PickleBackend(root, writable=True).write_blobs(big, {"k": data})

        def in_file(records, name=big.name):
            next(r for r in records if r.get("identifier") == "big")["payload"] = {
                "file": name, "key": "k", "crc32": zlib.crc32(data)}

        rewrite_records(root, in_file)
    return stores


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_hostile_pickles_end_in_cldata_errors_within_bounds(bomb, base_store, base_sqlite_store, tmp_path):
    """Every bomb, as a recording's root and stream ``application`` attribute (RecordingView + to_dict,
    ``cldata info``, ``add_recording``) and in a pickle store (segment, parameters, inline payload,
    payload file: ``cldata.open`` + parameters + payloads, ``cldata info``), refused with a cldata error
    in a child under 1.5 GB and 30 s. Once: the dtype ones allocated gigabytes, the shared trees hung
    every walk, the cycles raised RecursionError; and inside the C unpickler, where no hook runs, the
    tuple keys hung it (hashing) or crashed it (its stack), a memo index filled 1.5 GB and a claimed
    length asked for a terabyte."""
    jobs = []
    for node in () if bomb in STORE_ONLY else ("/", "/data_stream/score"):
        rec = write_recording(tmp_path / f"rec{len(jobs)}.h5")
        plant_attribute(rec, node, "application", BOMBS[bomb])
        jobs += [["view", str(rec)], ["info", str(rec)], ["add", str(rec), str(tmp_path / f"store{len(jobs)}")]]
    for root in hostile_stores(base_store, tmp_path, bomb, base_sqlite_store).values():
        jobs += [["open", str(root)], ["info", str(root)]]
    for job, result in zip(jobs, run_child(jobs)):
        assert_refused(job, result)


def test_the_bombs_are_live():
    """Canary: with plain pickle, the dtype bomb allocates 2 GB and the shared tree expands (so a refusal
    above means something). Checked on small versions: the real ones would take the test run down."""
    array = pickle.loads(dtype_bomb(("u1", (2**20,))))
    assert array.nbytes == 2**20
    tree = pickle.loads(shared_pairs(10))
    assert tree[0] is tree[1]
    assert len(BOMBS["dtype sub-array of 2 GB items"]) == 191


# --- numpy's trust in pickled state ------------------------------------------------------------------------------


def G(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def _u(text: str) -> bytes:
    return b"X" + struct.pack("<I", len(text)) + text.encode()


def _dtype(spec: str) -> bytes:
    return G("numpy", "dtype") + _u(spec) + b"\x89\x88\x87R"


_RECONSTRUCT = G("numpy._core.multiarray", "_reconstruct") + G("numpy", "ndarray")
_ARRAY_STATE = b"(K\x01K\x01\x85" + _dtype("u1") + b"\x89C\x01Atb"

NUMPY_CASES = {
    # a dtype used for an array, then given a 1 GB item size: the array would read beyond its buffer
    "dtype changed after use": b"\x80\x02" + _dtype("V8") + b"q\x00" + _RECONSTRUCT + b"K\x01\x85h\x00\x87Rq\x01"
                               + b"0h\x00(K\x03X\x01\x00\x00\x00|NNNJ\x00\x00\x00\x40K\x01K\x00tb0h\x01.",
    # an 8-byte dtype whose field is 100,000 bytes long
    "field outside the item size": b"\x80\x02" + _dtype("V8") + b"q\x00"
    + b"(K\x03X\x01\x00\x00\x00|NX\x01\x00\x00\x00a\x85}X\x01\x00\x00\x00a" + _dtype("V100000")
    + b"K\x00\x86sK\x08K\x01K\x00tb0" + _RECONSTRUCT + b"K\x00\x85X\x01\x00\x00\x00b\x87R"
    + b"(K\x01K\x01\x85h\x00\x89C\x08AAAAAAAAtb.",
    # a float64 dtype whose flags claim it holds Python objects: numpy would decref its bytes as pointers
    "flags that claim objects": b"\x80\x02" + _dtype("f8") + b"q\x00"
    + b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb0" + _RECONSTRUCT
    + b"K\x00\x85X\x01\x00\x00\x00b\x87R(K\x01K\x01\x85h\x00\x89]K\x05atb.",
    "an array's state set twice": b"\x80\x02" + _RECONSTRUCT + b"K\x00\x85X\x01\x00\x00\x00b\x87R"
                                  + _ARRAY_STATE + _ARRAY_STATE + b".",
    # the first state frees the buffer a view (made when the array was passed to set()) still uses
    "an array's state set after use": b"\x80\x02" + _RECONSTRUCT + b"K\x00\x85X\x01\x00\x00\x00b\x87Rq\x00"
                                      + G("builtins", "list") + b"]h\x00a\x85R0h\x00" + _ARRAY_STATE + b".",
    "state of an allow-list entry": b"\x80\x02" + G("builtins", "set") + b"N}X\x05\x00\x00\x00_call"
                                    + G("builtins", "str") + b"s\x86b.",
    "state of the Dimensionality class": b"\x80\x02" + G("quantities.dimensionality", "Dimensionality")
                                         + b"N}X\x07\x00\x00\x00__len__" + G("builtins", "str") + b"s\x86b.",
    "NEWOBJ of builtins.str": b"\x80\x02" + G("builtins", "str") + b"]\x85\x81.",
    "NEWOBJ of Dimensionality with arguments": b"\x80\x02" + G("quantities.dimensionality", "Dimensionality")
                                               + b"}\x85\x81.",
    "state of a neo Event after it was built": pickle.dumps(Reduce(
        neo.core.event._new_event, (neo.Event, np.arange(3) * pq.s, None, None, None, None, None, None, {}),
        (1, (1,), np.dtype("f8"), False, b"\0" * 8, pq.s.dimensionality)), 4),
    "neo Event from a list of padded strings": pickle.dumps(Reduce(
        neo.core.event._new_event, (neo.Event, ["a" * 100_000] + ["b"] * 1000)), 4),
    "neo AnalogSignal cast to a 400 kB string dtype": pickle.dumps(Reduce(
        neo.core.analogsignal._new_AnalogSignalArray, (neo.AnalogSignal, np.ones(10), pq.mV, np.dtype("U100000"))), 4),
    "bytes(2**40)": pickle.dumps(Reduce(bytes, (2**40,)), 2),
    "copyreg._reconstructor on ndarray": pickle.dumps(
        Reduce(copyreg._reconstructor, (np.ndarray, np.ndarray, (10**13,))), 2),
    "zero-size items, 2**56 of them": b"\x80\x02" + _RECONSTRUCT + b"K\x00\x85X\x01\x00\x00\x00b\x87R"
    + b"(K\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x01\x85" + _dtype("V0") + b"\x89C\x00tb.",
    "object array containing itself": None,  # filled below
    "numpy scalar of 300 MB": pickle.dumps(Reduce(scalar, (np.dtype("V300000000"), b"x")), 4),
}
_self_array = np.empty(1, dtype=object)
_self_array[0] = _self_array
NUMPY_CASES["object array containing itself"] = pickle.dumps(_self_array, 4)


def test_numpy_state_cannot_corrupt_memory():
    """A pickle sets array and dtype state that numpy trusts: an item size, fields or flags that contradict
    the buffer, a second state that frees memory a view still uses, a BUILD on an allow-list entry, a class
    or a constructed neo object, or arguments a constructor would blow up. Each is refused with a cldata
    error, in a child (had one got through, the child could crash, not the test run)."""
    jobs = [["loads", data.hex(), "pickle"] for data in NUMPY_CASES.values()]
    for name, result in zip(NUMPY_CASES, run_child(jobs)):
        if result["outcome"] == "ok":
            # a harmless value is acceptable only if numpy never saw the changed dtype
            assert name == "dtype changed after use", f"{name} loaded: {result}"
            continue
        assert result["cldata"] or result["outcome"] in ("UnpicklingError", "TypeError"), (name, result)


def test_a_dtype_changed_after_use_leaves_the_array_as_built():
    """The array was built on a private copy of the dtype; the pickle's later BUILD of the dtype it holds
    changes nothing numpy uses (only 8 bytes were allocated, and that is what the array says)."""
    value = safe_loads(NUMPY_CASES["dtype changed after use"])
    assert value.dtype.itemsize == 8 and value.nbytes == 8 and value.tobytes() == bytes(8)


def test_a_pickled_unit_is_looked_up_and_left_as_it_was():
    """Unit pickles BUILD the unit with its format order; the unit is quantities' global object, so
    that state is ignored (a crafted one would have changed how every later unit formats)."""
    before = pq.mV._format_order
    state = (1, 10**9)
    data = pickle.dumps({"u": Reduce(type(pq.mV), ("millivolt",), state)}, 4)
    assert safe_loads(data, PICKLE_ALLOWLIST)["u"] is pq.mV
    assert pq.mV._format_order == before


# --- the limits ------------------------------------------------------------------------------------------


def _allowed(limits: PickleLimits, data: bytes) -> tuple[int, int]:
    return (limits.max_bytes + PickleLimits.BYTES_PER_BYTE * len(data),
            limits.max_objects + PickleLimits.OBJECTS_PER_BYTE * len(data))


def test_item_size_just_under_the_byte_limit_loads_and_just_over_is_refused():
    def pickle_of(itemsize):  # an empty array of a dtype of ``itemsize`` bytes: one item is what it allocates
        return pickle.dumps(Reduce(_reconstruct, (np.ndarray, (0,), np.dtype(f"V{itemsize}"))), protocol=2)

    limits = PickleLimits(max_bytes=5_000_000)
    size = len(pickle_of(5_000_000))
    allowed = limits.max_bytes + PickleLimits.BYTES_PER_BYTE * size
    assert len(pickle_of(allowed)) == size and len(pickle_of(allowed + 1)) == size
    # the dtype's name ("V5000540", 8 bytes) is text the loader counts too
    assert safe_loads(pickle_of(allowed - 8), limits=limits).dtype.itemsize == allowed - 8
    with pytest.raises(ContentLimitError, match="max_bytes"):
        safe_loads(pickle_of(allowed - 7), limits=limits)
    with pytest.raises(ContentLimitError, match="max_bytes"):
        safe_loads(pickle_of(allowed + 1), limits=limits)


def test_shared_text_counts_each_time_it_is_referenced():
    text = "x" * 100_000
    limits = PickleLimits(max_bytes=1_000_000)
    for copies, refused in ((10, False), (20, True)):
        data = pickle.dumps([text] * copies)
        assert len(data) < 100_200  # the text is in the pickle once
        if refused:
            with pytest.raises(ContentLimitError, match="max_bytes"):
                safe_loads(data, limits=limits)
        else:
            assert safe_loads(data, limits=limits) == [text] * copies


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_values_just_under_the_object_limit_load_and_just_over_are_refused(protocol):
    inner = list(range(50))
    data = pickle.dumps([inner] * 40, protocol=protocol)  # one list of 50, referenced 40 times
    expanded = 1 + 40 * (1 + 50)
    allowance = expanded - PickleLimits.OBJECTS_PER_BYTE * len(data)
    assert allowance > 0
    value = safe_loads(data, limits=PickleLimits(max_objects=allowance))
    assert value == [inner] * 40 and value[0] is value[1]  # shared, as pickled
    with pytest.raises(ContentLimitError, match="max_objects"):
        safe_loads(data, limits=PickleLimits(max_objects=allowance - 1))


def test_nesting_just_under_the_depth_limit_loads_and_just_over_is_refused():
    assert DEFAULT_LIMITS.max_depth == 100
    value = safe_loads(deep_nesting(100))
    depth = 0
    while value:
        value, depth = value[0], depth + 1
    assert depth == 99  # 100 lists
    with pytest.raises(ContentLimitError, match="max_depth"):
        safe_loads(deep_nesting(101))
    assert safe_loads(deep_nesting(150), limits=PickleLimits(max_depth=150))


def test_the_limits_grow_with_the_pickle_so_large_legitimate_pickles_load():
    """What a pickle holds itself never exceeds the limits: bytes and values are allowed per byte of input."""
    data = pickle.dumps({"a": np.arange(300_000), "b": list(range(200_000)), "t": "x" * 500_000}, protocol=5)
    value = safe_loads(data, limits=PickleLimits(max_bytes=0, max_objects=0))
    assert value["b"] == list(range(200_000)) and len(value["t"]) == 500_000
    assert np.array_equal(value["a"], np.arange(300_000))


def test_a_dtype_nested_in_a_pickle_with_a_consistent_state_loads():
    dt = np.dtype([("a", "<i4"), ("b", [("x", ">f8", (2, 3)), ("y", "U5")]), ("c", "V3")], align=True)
    value = np.zeros(3, dt)
    value["b"]["y"] = ["ab", "c", ""]
    for protocol in range(6):
        out = safe_loads(pickle.dumps(value, protocol=protocol))
        assert out.dtype == dt and out.tobytes() == value.tobytes()


def _list_in_a_tuple_in_itself() -> list:
    outer: list = []
    outer.append((outer,))
    return outer


def _dict_deeper_in_itself() -> dict:
    outer: dict = {}
    outer["s"] = {"deeper": [outer]}
    return outer


@pytest.mark.parametrize("make", [lambda: _containing_itself("list"), lambda: _containing_itself("dict"),
                                  _list_in_a_tuple_in_itself, _dict_deeper_in_itself])
def test_a_container_that_contains_itself_is_refused(make):
    with pytest.raises(ContentLimitError, match="contains itself"):
        safe_loads(pickle.dumps(make()))


def test_limits_are_checked_values():
    with pytest.raises(ValueError):
        PickleLimits(max_bytes=-1)
    with pytest.raises(ValueError):
        PickleLimits(max_depth=1.5)


def test_a_refusal_names_the_file_and_the_limit(tmp_path):
    rec = write_recording(tmp_path / "rec.h5")
    plant_attribute(rec, "/", "application", BOMBS["shared lists, 40 levels"])
    with pytest.raises(ContentLimitError) as info:
        cldata.RecordingView(rec)
    text = str(info.value)
    assert str(rec) in text and "application" in text and "PickleLimits.max_objects" in text


@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_pickle_backend_takes_limits_from_code_only(tmp_path, base_store, base_sqlite_store, catalog):
    # (a segment log is pickled: its limits apply when the store opens; a SQLite catalog holds no pickle:
    # they apply to the payloads)
    root = tmp_path / "store"
    shutil.copytree(base_store if catalog == "backend" else base_sqlite_store, root)

    def read(**options):
        with cldata.open(root, **options) as store:
            results = store.analysis_results
            for result in results:
                result.payload()
            return results

    with pytest.raises(ContentLimitError):
        read(pickle_limits=PickleLimits(max_bytes=0, max_objects=0, max_depth=1))
    assert read(pickle_limits=PickleLimits(max_bytes=1 << 20))
    with pytest.raises(ParameterError):
        cldata.open(root, pickle_limits={"max_bytes": 1 << 40})


def test_a_refused_attribute_is_refused_quickly_again_by_plain_pytables(tmp_path):
    """PyTables' own attribute access (the guard) gets the raw bytes back, never the expanded value."""
    rec = write_recording(tmp_path / "rec.h5")
    plant_attribute(rec, "/", "application", BOMBS["shared lists, 40 levels"])
    with tables.open_file(str(rec)) as f:
        assert isinstance(f.root._v_attrs.application, (bytes, np.bytes_))
    with pytest.raises(UnsafeContentError):
        cldata.RecordingView(rec)


# --- legitimate values round-trip ---------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.text(max_size=20),
    st.binary(max_size=20), st.complex_numbers(allow_nan=False),
    hnp.from_dtype(np.dtype("i8")), hnp.from_dtype(np.dtype("f4"), allow_nan=False), hnp.from_dtype(np.dtype("U4")),
)
_dtypes = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=4), hnp.unicode_string_dtypes(max_len=4),
                    st.just(np.dtype([("a", "<i2"), ("b", ">f8", (2,))])))
_arrays = _dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
_hashables = st.one_of(st.integers(), st.text(max_size=5), st.binary(max_size=5))
values = st.recursive(
    st.one_of(_scalars, _arrays),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.sets(_hashables, max_size=4), st.frozensets(_hashables, max_size=4)),
    max_leaves=20)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # recursive arrays: slow to generate
@given(value=values, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_legitimate_values_round_trip(value, protocol):
    """Legitimate values load exactly as plain pickle loads them (which is the value itself, but for
    byte order: numpy's pickles before protocol 5 bring small big-endian arrays back native)."""
    data = pickle.dumps(value, protocol=protocol)
    for allowlist in (ATTRIBUTE_ALLOWLIST, PICKLE_ALLOWLIST):
        assert same(safe_loads(data, allowlist), pickle.loads(data))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # recursive arrays: slow to generate
@given(shared=values, copies=st.integers(1, 5), protocol=st.integers(2, pickle.HIGHEST_PROTOCOL))
def test_shared_values_round_trip_and_stay_shared(shared, copies, protocol):
    value = {"refs": [shared] * copies, "other": [shared]}
    data = pickle.dumps(value, protocol=protocol)
    out = safe_loads(data)
    assert same(out, pickle.loads(data))
    if isinstance(shared, (list, dict, np.ndarray)):
        assert out["refs"][0] is out["other"][0]


def test_neo_and_quantities_payloads_round_trip():
    payload = {
        "q": 3 * pq.mV, "qa": np.arange(4) * pq.s,
        "event": neo.Event(np.arange(3) * pq.s, labels=np.array(["a", "b", "c"]), name="e", foo=[1, 2]),
        "train": neo.SpikeTrain([1, 2] * pq.s, t_stop=3 * pq.s, waveforms=np.zeros((2, 1, 4)) * pq.mV, bar={"x": 1}),
        "signal": neo.AnalogSignal(np.ones((5, 2)), units="mV", sampling_rate=1 * pq.kHz,
                                   array_annotations={"ch": np.array([1, 2])}),
        "irregular": neo.IrregularlySampledSignal([1, 2, 3] * pq.s, np.ones((3, 1)) * pq.V),
        "epoch": neo.Epoch(np.arange(2) * pq.s, durations=np.ones(2) * pq.s, labels=np.array(["x", "y"])),
    }
    for protocol in (2, 4, 5):
        out = safe_loads(pickle.dumps(payload, protocol=protocol), PICKLE_ALLOWLIST)
        for key, value in payload.items():
            got = out[key]
            assert type(got) is type(value) and np.array_equal(np.asarray(got), np.asarray(value))
            assert got.dimensionality == value.dimensionality
            assert type(got.dimensionality) is type(value.dimensionality)
            assert getattr(got, "annotations", None) == getattr(value, "annotations", None)
        assert out["signal"].array_annotations["ch"].tolist() == [1, 2]
        assert np.array_equal(out["train"].waveforms, payload["train"].waveforms)
        assert list(out["event"].labels) == ["a", "b", "c"]


# --- the opcode scan (what the C unpickler does with no hook) --------------------------------------------------


def _tuple_key(depth: int) -> bytes:
    return b"\x80\x04}" + b")" + b"\x85" * (depth - 1) + b"K\x01s."


def test_tuple_keys_nested_just_under_the_depth_limit_load_and_just_over_are_refused():
    value = safe_loads(_tuple_key(99))  # the dict and its key: 100 levels
    key = next(iter(value))
    depth = 1
    while key:
        key, depth = key[0], depth + 1
    assert depth == 99
    with pytest.raises(ContentLimitError, match="max_depth"):
        safe_loads(_tuple_key(100))  # loaded, then refused: 101 levels
    with pytest.raises(ContentLimitError, match="tuple nested 101 deep"):
        safe_loads(_tuple_key(101))  # refused before the unpickler hashes it


def test_shared_tuple_keys_are_refused_before_the_unpickler_hashes_them():
    assert safe_loads(shared_tuple_key(10))  # 2**10 steps: fine
    with pytest.raises(ContentLimitError, match="max_objects"):
        safe_loads(shared_tuple_key(25))


def test_memo_indices_far_beyond_the_stores_so_far_are_refused():
    def put(index: int) -> bytes:
        return b"\x80\x02Nr" + struct.pack("<I", index) + b"."

    assert safe_loads(put(1 << 16)) is None
    with pytest.raises(ContentLimitError, match="memo index"):
        safe_loads(put((1 << 16) + 1))


def test_a_length_claimed_beyond_the_pickle_is_refused_before_allocating():
    with pytest.raises(ContentLimitError, match="claims 1,099,511,627,776 bytes"):
        safe_loads(BOMBS["claimed length of 1 TB"])


def test_malformed_pickles_are_unpickling_errors():
    for data in (b"\x80\x04N\x94Nq\x00.", b"\x80\x04(N", b"hello.", b"\x80\x04a."):
        with pytest.raises(pickle.UnpicklingError):
            safe_loads(data)


def test_an_attribute_that_only_looks_pickled_stays_bytes(tmp_path):
    """PyTables hands back bytes that end in '.' and do not unpickle as they are; so does cldata."""
    rec = write_recording(tmp_path / "rec.h5")
    plant_attribute(rec, "/", "note", b"hello.")
    with cldata.RecordingView(rec) as view:
        assert bytes(view.attributes["note"]) == b"hello."


def test_the_scan_follows_the_unpickler_where_pop_removes_a_mark():
    """With nothing above the last mark, POP removes the mark (the unpickler's rule), not the value below:
    a scan that popped the tuple tree would have lost track of it."""
    data = shared_tuple_key(40)
    at = data.index(b"}h")
    with pytest.raises(ContentLimitError):
        safe_loads(data[:at] + b"(0" + data[at:])


def test_checking_a_shared_structured_dtype_is_counted_each_time():
    dt = np.dtype([(f"f{i}", "u1") for i in range(2000)])
    data = pickle.dumps([dt] * 1000, protocol=4)  # 2,000,000 field checks
    with pytest.raises(ContentLimitError, match="max_objects"):
        safe_loads(data)
    assert safe_loads(pickle.dumps([dt] * 10, protocol=4))[0] == dt


@pytest.mark.parametrize("call", ["tuple", "scalar"])
def test_calls_cannot_hand_the_unpickler_a_tuple_the_scan_did_not_measure(call):
    """The scan counts the tuples opcodes build; a call's result it counts as one value. So no allowed call
    returns a tuple: tuple() is not callable, and numpy's scalar(object dtype, x), which is x, is refused.
    (Here a tree of 2**15 values, small enough to load, hashed as the key of 1,000 dicts.)"""
    tree = _nested(15, lambda x: (x, x))
    key = Reduce(tuple, ([tree],)) if call == "tuple" else Reduce(scalar, (np.dtype("O"), tree))
    data = pickle.dumps([{key: i} for i in range(1000)], protocol=2)
    with pytest.raises(UnsafeContentError, match="may only pass as an argument" if call == "tuple" else "object scalar"):
        safe_loads(data)
