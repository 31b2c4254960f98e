"""Which HDF5 nodes each kind of cldata file may hold, checked in one place before anything is read.

PyTables turns some node content into Python objects as it reads it: a ``VLArray`` with
an ``ObjectAtom`` holds one pickle per row, and PyTables unpickles every row it reads. A
crafted file can put such a node exactly where cldata expects its own byte arrays (a
store's catalog, a payload file, an export, an overview) and run code the moment cldata
reads it. And a damaged or crafted file can declare a dataset far larger than what it
stores, so that reading it "whole" allocates or iterates without bound.

So every file cldata opens is checked against a :class:`Layout` — a small allow-list of
node kinds by path, one per kind of file, kept beside the code that reads that kind
(:data:`RECORDING` here; the ``hdf5`` backend's files in :mod:`cldata.backends.blobs`,
exports in :mod:`cldata.backends.export`, overviews in :mod:`cldata.overview.layout`) — right
after it is opened and before any node's data is read, always by :func:`check_layout`:

- a node of pickled objects is refused anywhere in the file's part that is checked
  (:class:`~cldata.errors.UnsafeContentError`, naming the file and the node);
- a node at a known path must be of the expected kind (a group, a table, an integer
  array of the expected rank...), else the layout's own error is raised
  (:class:`~cldata.errors.StoreFormatError` for store files and exports,
  :class:`~cldata.errors.OverviewError` for overviews) — except in a CL recording, whose
  reader reads what Cortical Labs' reader reads: there a node of another kind is left to the
  reader, which leaves that part out with a warning (docs/READER-TOLERANCE.md), and only
  safety is checked here;
- in cldata's own files (strict layouts) an unknown node is refused too; a CL recording
  may hold nodes cldata does not know (they are kept, never read), as long as they are safe;
- every dataset checked (known or not) must not declare more data than the file can
  hold: its logical size is at most the file's size, or :data:`MAX_COMPRESSION_RATIO`
  times it when the dataset is compressed (see :func:`check_declared_size`).

A reader that opens only a few of a file's many datasets per request (an overview) may
check the groups and the names at open (``check_layout(..., leaves=False)``) and each
dataset with :func:`check_leaf` when it first loads it: nothing is read unchecked either way.

Besides, :func:`install_object_atom_guard` (run when this module is imported) makes
PyTables unpickle object rows through cldata's allow-list for the whole process, as it
already does for node attributes: a node of pickled objects that some path did not check
still cannot run code.

Examples
--------
>>> import tables
>>> from cldata.format.node_guard import RECORDING, check_layout
>>> with tables.open_file("rec.h5") as h5:                       # doctest: +SKIP
...     check_layout(h5, "/", RECORDING, "rec.h5")
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tables
import tables.atom

from cldata.core.safe_pickle import safe_loads
from cldata.errors import CldataError, CorruptRecordingError, UnsafeContentError
from cldata.format.parts import PARTS

__all__ = [
    "NodeKind",
    "Layout",
    "GROUP",
    "TABLE",
    "BYTE_ARRAY",
    "INTEGER_MATRIX",
    "RECORDING",
    "MAX_COMPRESSION_RATIO",
    "check_layout",
    "check_leaf",
    "check_declared_size",
    "is_object_node",
    "install_object_atom_guard",
]

MAX_COMPRESSION_RATIO = 4096
"""How much larger than the file a compressed dataset may claim to be.

zlib cannot compress better than about 1,032 to 1, LZ4 and BloscLZ about 255 to 1; a
dataset that claims more than 4,096 times the whole file's size holds mostly chunks that
were never written, and reading it would cost time and memory out of all proportion to
the file."""


@dataclass(frozen=True)
class NodeKind:
    """What a node at a given path must be.

    Parameters
    ----------
    what
        The kind in words, for error messages ("a 1-d array of bytes").
    classes
        PyTables classes the node may be an instance of.
    ndim
        The rank an array must have (``None``: any).
    dtype
        A test of the array's dtype (``None``: any).

    Examples
    --------
    >>> BYTE_ARRAY.what
    '1-d array of bytes (uint8)'
    """

    what: str
    classes: tuple[type, ...]
    ndim: int | None = None
    dtype: Callable[[np.dtype], bool] | None = None

    def admits(self, node: tables.Node) -> bool:
        """Whether ``node`` is of this kind."""
        if not isinstance(node, self.classes):
            return False
        if self.ndim is not None and len(node.shape) != self.ndim:
            return False
        return self.dtype is None or self.dtype(np.dtype(node.atom.dtype))


GROUP = NodeKind("group", (tables.Group,))
TABLE = NodeKind("table", (tables.Table,))
BYTE_ARRAY = NodeKind("1-d array of bytes (uint8)", (tables.Array,), 1, lambda dt: dt == np.uint8)
INTEGER_MATRIX = NodeKind("2-d integer array", (tables.Array,), 2, lambda dt: dt.kind in "iu" and dt.shape == ())


@dataclass(frozen=True)
class Layout:
    """The allow-list of nodes of one kind of file (or of one part of a file).

    Parameters
    ----------
    name
        The kind of file in words ("CL recording").
    rules
        ``(path pattern, kind)`` pairs; paths are relative to the checked group, and ``*``
        stands for one path component. A kind may also be another :class:`Layout`: that
        subtree is a part of its own, checked when it is opened (an export's recordings).
    strict
        Whether nodes that match no rule are refused (cldata's own files) or only checked
        to be safe (CL recordings, which may hold nodes cldata does not know).
    error
        The exception for a node of the wrong kind.
    enforce_kinds
        Whether a node of another kind at a known path is refused (cldata's own files), or
        only checked to be safe, its kind left to the reader (CL recordings: tolerant reading).

    Examples
    --------
    >>> RECORDING.kind_of("data_stream/score/index").what
    'table'
    """

    name: str
    rules: tuple[tuple[str, NodeKind | Layout], ...]
    strict: bool
    error: type[CldataError]
    enforce_kinds: bool = True

    def kind_of(self, relpath: str) -> NodeKind | Layout | None:
        """The kind a node at ``relpath`` must be, or ``None`` if no rule names it."""
        parts = relpath.split("/")
        for pattern, kind in self.rules:
            pattern_parts = pattern.split("/")
            if len(pattern_parts) == len(parts) and all(
                    fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern_parts)):
                return kind
        return None


# the node kinds the parts of a recording name (cldata.format.parts.RecordingPart.layout)
_PART_KINDS = {"group": GROUP, "table": TABLE, "bytes": BYTE_ARRAY, "integer matrix": INTEGER_MATRIX}

RECORDING = Layout("CL recording", tuple(
    (pattern, _PART_KINDS[kind]) for part in PARTS for pattern, kind in part.layout
), strict=False, error=CorruptRecordingError, enforce_kinds=False)
"""A CL recording, at the root of its file or under an export's group: the nodes each part
of :data:`cldata.format.parts.PARTS` puts there.

The rules say what the CL writer puts where; they are not enforced here (``enforce_kinds``
is off): strict when writing, tolerant when reading, so a node of another kind is the
reader's to judge (it leaves that part out, with a warning), and every node is still checked
to be safe (no pickled objects, no size beyond the file)."""


def is_object_node(node: tables.Node) -> bool:
    """Whether reading ``node`` would unpickle Python objects (a ``VLArray`` of ``ObjectAtom``).

    Examples
    --------
    >>> is_object_node(h5.root.samples)      # doctest: +SKIP
    False
    """
    atom = getattr(node, "atom", None)
    return isinstance(atom, tables.ObjectAtom) or getattr(atom, "kind", None) == "object" \
        or (isinstance(node, tables.Table) and node.dtype.hasobject)


def _file_size(h5: tables.File) -> int | None:
    try:
        return os.stat(h5.filename).st_size
    except (OSError, TypeError):  # pragma: no cover - an in-memory file
        return None


def check_declared_size(leaf: tables.Leaf, source: str, error: type[CldataError],
                        file_size: int | None = None) -> None:
    """Refuse a dataset that declares more data than its file can hold.

    A damaged or crafted dataspace can claim any number of rows (2**40 frames of samples,
    say); HDF5 then reads the chunks that were never written as zeros, so reading or
    checking the dataset would run for days or allocate terabytes. The claim is compared
    with the file's size: an uncompressed dataset cannot be larger than the file, a
    compressed one not more than :data:`MAX_COMPRESSION_RATIO` times larger.

    Raises
    ------
    CldataError
        Of class ``error``, saying what the dataset claims and what the file holds.

    Examples
    --------
    >>> check_declared_size(h5.root.samples, "rec.h5", CorruptRecordingError)   # doctest: +SKIP
    """
    if file_size is None:
        file_size = _file_size(leaf._v_file)
    if file_size is None:  # pragma: no cover
        return
    try:
        logical = int(leaf.size_in_memory)
    except (OverflowError, ValueError):  # pragma: no cover - a shape whose product overflows
        logical = 1 << 127
    filters = getattr(leaf, "filters", None)
    compressed = filters is not None and (filters.complevel or 0) > 0
    limit = file_size * (MAX_COMPRESSION_RATIO if compressed else 1)
    if logical > limit:
        how = f"compressed at most {MAX_COMPRESSION_RATIO}:1, " if compressed else ""
        raise error(
            f"{leaf._v_pathname} in {source} claims {leaf.shape} ({logical:,} bytes), more than the "
            f"file can hold ({how}the whole file is {file_size:,} bytes): the file is damaged, or "
            "was crafted to make readers allocate or loop without bound"
        )


def _unsafe(node: tables.Node, source: str) -> UnsafeContentError:
    return UnsafeContentError(
        f"{node._v_pathname} in {source} is a node of pickled Python objects ({type(node).__name__} of "
        f"{type(getattr(node, 'atom', None)).__name__}); reading it would run code from the file, so "
        "cldata refuses it. Nothing was read or executed."
    )


def check_layout(h5: tables.File, where: str, layout: Layout, source: str, *, leaves: bool = True) -> None:
    """Check the nodes under ``where`` against ``layout`` before any of them is read.

    Only node headers are touched (kinds, atoms, shapes, filters), never their data. A
    sub-layout (an export's recordings) is skipped here and checked when it is opened.
    With ``leaves=False`` only the groups and the names of the leaves are checked here,
    and each leaf must be checked with :func:`check_leaf` when the reader first loads it
    (an overview opens a few of its many arrays per request: loading them all would cost
    a disk read each on a cold cache).

    Raises
    ------
    cldata.errors.UnsafeContentError
        If a node would unpickle objects when read.
    CldataError
        Of the layout's error class, for a node of the wrong kind, an unknown node in a
        strict layout, or a dataset declaring more than the file holds.

    Examples
    --------
    >>> with tables.open_file("store/catalog/00000001-ab12cd34.h5") as h5:   # doctest: +SKIP
    ...     check_layout(h5, "/", BLOB_FILE, "store/catalog/00000001-ab12cd34.h5")
    """
    file_size = _file_size(h5)
    try:
        top = h5.get_node(where)
    except (tables.NoSuchNodeError, ValueError):
        raise layout.error(f"{source} has no {layout.name} at {where!r}") from None
    if not isinstance(top, tables.Group):
        raise layout.error(f"{where} in {source} is not a group holding a {layout.name}")
    prefix = top._v_pathname.rstrip("/") + "/"
    stack: list[tables.Group] = [top]
    while stack:
        group = stack.pop()
        for name in sorted(group._v_children):
            where = f"{group._v_pathname.rstrip('/')}/{name}"
            try:
                if not leaves and name in group._v_leaves and layout.kind_of(where[len(prefix):]) is not None:
                    continue  # named as the layout allows; its kind is checked when it is loaded (check_leaf)
                node = group._f_get_child(name)
                _check_node(node, layout, prefix, source, file_size, stack)
            except CldataError:
                raise
            except Exception as exc:
                # PyTables reads a node's header (and its filters, shape, atom) lazily: damage
                # there surfaces as whatever it happens to raise
                raise layout.error(f"{where} in {source} is damaged: {type(exc).__name__}: {exc!s:.200}") from None


def check_leaf(node: tables.Node, layout: Layout, where: str, source: str) -> None:
    """Check one node against ``layout`` (whose part starts at group ``where``) before it is read.

    For readers that checked their file with ``check_layout(..., leaves=False)``.

    Raises
    ------
    cldata.errors.UnsafeContentError, CldataError
        As :func:`check_layout`.

    Examples
    --------
    >>> check_leaf(h5.get_node("/samples/L0/min"), OVERVIEW, "/", "ov.h5")   # doctest: +SKIP
    """
    prefix = where.rstrip("/") + "/"
    try:
        _check_node(node, layout, prefix, source, _file_size(node._v_file), [])
    except CldataError:
        raise
    except Exception as exc:
        raise layout.error(f"{node._v_pathname} in {source} is damaged: {type(exc).__name__}: {exc!s:.200}") from None


def _check_node(node: tables.Node, layout: Layout, prefix: str, source: str, file_size: int | None,
                stack: list[tables.Group]) -> None:
    if is_object_node(node):
        raise _unsafe(node, source)
    rel = node._v_pathname[len(prefix):]
    kind = layout.kind_of(rel)
    if isinstance(kind, Layout):
        return  # a part of its own, checked when it is opened
    if kind is None:
        if layout.strict:
            raise layout.error(f"{node._v_pathname} in {source} is not part of a {layout.name} "
                               f"({type(node).__name__} where cldata writes nothing)")
    elif layout.enforce_kinds and not kind.admits(node):
        shape = f" of shape {node.shape} and dtype {node.atom.dtype}" if hasattr(node, "atom") else ""
        raise layout.error(f"{node._v_pathname} in {source} is a {type(node).__name__}{shape}; "
                           f"a {layout.name} holds a {kind.what} there")
    if isinstance(node, tables.Group):
        stack.append(node)
    elif isinstance(node, tables.Leaf):
        check_declared_size(node, source, layout.error, file_size)


class _ObjectAtomPickle:
    """Stands in for the ``pickle`` module inside ``tables.atom``: rows of object atoms are
    unpickled through cldata's allow-list (pickling is untouched)."""

    def __init__(self, real: Any):
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @staticmethod
    def loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
        return safe_loads(data, source="a PyTables object row")


def install_object_atom_guard() -> None:
    """Make PyTables unpickle ``ObjectAtom`` rows through the allow-list, for the whole process.

    Called when cldata is imported. Rows holding only builtin values and numpy arrays
    still load; anything else raises :class:`~cldata.errors.UnsafeContentError` before it
    runs.

    Examples
    --------
    >>> import tables.atom
    >>> install_object_atom_guard()
    >>> isinstance(tables.atom.pickle, _ObjectAtomPickle)
    True
    """
    atom_module = tables.atom
    if not isinstance(atom_module.pickle, _ObjectAtomPickle):
        atom_module.pickle = _ObjectAtomPickle(atom_module.pickle)


install_object_atom_guard()
