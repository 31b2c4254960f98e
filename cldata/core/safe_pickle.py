"""Unpickling that builds only allow-listed objects, within documented bounds, and the guard
that makes PyTables use it.

Pickle is a small program: loading it may call any importable function. PyTables stores
every attribute that is not a plain number, string or array (the ``application`` dicts of
a CL recording, for example) as a pickle, and unpickles it as soon as the node is opened;
the ``pickle`` store backend keeps its catalog and payloads as pickles. So a crafted file
could run code, or make the loader allocate or work without end, the moment it is read.
Four things bound what a pickle loaded here can make the process do.

**What it may call.** Globals resolve from a fixed table of allowed objects
(:class:`AllowList`), keyed by the ``(module, name)`` written in the pickle; nothing is
imported by name from file content, and anything else raises
:class:`~cldata.errors.UnsafeContentError` before it is called. The pickle never gets the
objects themselves, only stand-ins: a stand-in is not a class (so the ``NEWOBJ`` opcodes,
which call ``cls.__new__`` directly, cannot use it), classes such as ``numpy.ndarray`` are
values a pickle may pass as arguments but never call, and calling a function first checks
its arguments. Stand-ins become the real objects in the loaded value.

**How much it may build** (:class:`PickleLimits`). Every load has a budget: bytes (arrays,
strings and bytes, and what an allowed constructor allocates, its item size included, so
``_reconstruct(ndarray, (1,), dtype(('u1', (2**31-1,))))`` is refused before anything is
allocated), values, and nesting depth. Values are counted in the arguments of every call and
in the loaded value, *shared references counted each time they are used*: a pickle can name
one list from many places through its memo, so 321 bytes can stand for a tree of 2**40
values, which every later walk of the value (``to_dict``, ``cldata info``, the catalog
codec) would expand. Counting the expanded tree bounds them all; the count itself is linear
in the pickle (each shared container is measured once). A container that contains itself is
refused: cldata values are trees (shared sub-trees are allowed and counted each time).

**What the C unpickler does on its own**, with no hook to stop it: it hashes dict keys and
set members (a tuple key nested through shared references takes 2**40 steps, one nested
200,000 deep overflows its stack), grows its memo table to whatever index a ``PUT`` names
(9 bytes can fill 1.5 GB) and allocates the length an opcode claims before reading it. So a
pickle is first scanned, one pass over its opcodes that builds nothing (``_Scan``), and
refused when it would do any of these beyond its limits.

**Numpy's trust in pickled state.** Pickles set an array's content with
``ndarray.__setstate__`` (the ``BUILD`` opcode), and a dtype's with ``dtype.__setstate__``;
numpy trusts both: a dtype whose fields lie outside its item size, or whose flags claim it
holds objects, reads beyond its buffer, and setting an array's state again frees memory
that views of it still use. So arrays start as a private subclass whose ``__setstate__``
checks the state and swaps the pickle's dtype for a private copy rebuilt through numpy's
validating constructors, once, and only before the array has been used; every dtype the
pickle can reach may be changed later, so no array is ever built on one; an ndarray that
an allowed constructor returns reaches the pickle wrapped (it cannot be given a new state).

Example
-------
>>> import pickle
>>> from cldata.core.safe_pickle import safe_loads
>>> safe_loads(pickle.dumps({"culture": "C7", "session": 3}, 0))
{'culture': 'C7', 'session': 3}
>>> import os
>>> safe_loads(b"cos\\nsystem\\n(S'true'\\ntR.")
Traceback (most recent call last):
...
cldata.errors.UnsafeContentError: the pickle names os.system, which is not on cldata's allow-list ...
"""

from __future__ import annotations

import builtins
import codecs
import contextvars
import dataclasses
import io
import math
import pickle
import pickletools
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from itertools import chain, compress
from typing import Any

import numpy as np

from cldata.errors import ContentLimitError, UnsafeContentError

__all__ = [
    "AllowList",
    "ATTRIBUTE_ALLOWLIST",
    "DEFAULT_LIMITS",
    "PickleLimits",
    "RestrictedUnpickler",
    "safe_loads",
    "install_pytables_guard",
    # for allow-list extensions (see cldata.backends.pickled)
    "check_tiny_shape",
    "current_budget",
    "entry",
    "value_only",
    "register_leaf_type",
    "PrivateValue",
    "SealedType",
    "Wrapped",
]


# --- limits -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PickleLimits:
    """How much one pickle may make the loader build.

    A pickle of ``N`` bytes may make the loader

    - allocate at most ``max_bytes + 4 * N`` bytes: arrays (item size included: a dtype of
      2 GB items is refused before anything is allocated, and zero-size items count one byte
      each), strings and bytes, counted where a constructor builds them, in the arguments of
      every call and in the loaded value, with shared references counted each time;
    - build at most ``max_objects + 2 * N`` values, counted the same way (every element of a
      container, in arguments and in the loaded value, each time it is referenced);
    - nest containers at most ``max_depth`` levels deep; a container that contains itself is
      refused;
    - make the unpickler hash dict keys and set members in at most ``max_objects + 2 * N``
      steps (a tuple key costs its size, shared references counted each time), store at memo
      indices in order (65,536 ahead at most), and claim no more bytes than it holds.

    The terms in ``N`` make room for a legitimate pickle of any size (it describes each of
    its values at least once, in at least one byte); the fixed parts bound what a small
    pickle may stand for. Exceeding a limit raises :class:`~cldata.errors.ContentLimitError`.

    Parameters
    ----------
    max_bytes
        Fixed byte allowance (default 256 MiB).
    max_objects
        Fixed value allowance (default 1,000,000).
    max_depth
        Deepest nesting of containers (default 100).

    Examples
    --------
    A list of two references to a list of two references ..., 40 levels deep, is a few
    hundred bytes of pickle but a tree of 2**41 values:

    >>> import pickle
    >>> value = [0]
    >>> for _ in range(40):
    ...     value = [value, value]
    >>> safe_loads(pickle.dumps(value))
    Traceback (most recent call last):
    ...
    cldata.errors.ContentLimitError: the pickle would build more than 1,000,... values ...
    >>> safe_loads(pickle.dumps(list(range(10))), limits=PickleLimits(max_objects=5))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    max_bytes: int = 256 << 20
    max_objects: int = 1_000_000
    max_depth: int = 100

    #: bytes and values allowed per byte of the pickle, on top of the fixed allowances
    BYTES_PER_BYTE = 4
    OBJECTS_PER_BYTE = 2

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_objects", "max_depth"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"PickleLimits.{name} must be a non-negative int, not {value!r}")


DEFAULT_LIMITS = PickleLimits()
"""The limits every restricted load uses unless given others (see :class:`PickleLimits`)."""


def _describe(value: Any) -> str:
    # error messages never repr a value from the pickle: a shared-reference tree would take
    # as long to repr as to expand
    if isinstance(value, (bool, int, float, type(None))):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, tuple) and len(value) <= 8 and all(type(v) is int for v in value):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    size = f" of length {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset, bytes)) else ""
    return f"a {type(value).__name__}{size}"


# --- the budget of one load ----------------------------------------------------------------------------------


class _Budget:
    """What one load has used, and the objects it must keep an eye on (see the module doc)."""

    def __init__(self, limits: PickleLimits, size: int, source: str):
        self.limits = limits
        self.source = source
        self.max_bytes = limits.max_bytes + PickleLimits.BYTES_PER_BYTE * size
        self.max_objects = limits.max_objects + PickleLimits.OBJECTS_PER_BYTE * size
        self.bytes = 0
        self.objects = 0
        # dtypes handed to the pickle (it may still change them with BUILD): id -> dtype, kept alive
        self.exposed: dict[int, np.dtype] = {}
        # private arrays: id -> [array, state set, used]
        self.private: dict[int, list] = {}

    # -- errors --------------------------------------------------------------------------------------

    def where(self) -> str:
        return f" in {self.source}" if self.source else ""

    def refuse(self, message: str) -> UnsafeContentError:
        return UnsafeContentError(f"the pickle{self.where()} {message}; refused, nothing was executed")

    def too_much(self, what: str) -> ContentLimitError:
        if what == "bytes":
            limit, fixed, per = self.max_bytes, f"{self.limits.max_bytes:,}", PickleLimits.BYTES_PER_BYTE
            text = f"would allocate more than {limit:,} bytes in arrays, strings and bytes"
            name = "max_bytes"
        else:
            limit, fixed, per = self.max_objects, f"{self.limits.max_objects:,}", PickleLimits.OBJECTS_PER_BYTE
            text = f"would build more than {limit:,} values (shared references counted each time they are used)"
            name = "max_objects"
        return ContentLimitError(
            f"the pickle{self.where()} {text}; the limit is PickleLimits.{name} ({fixed}) plus {per} per byte "
            "of the pickle. A crafted file builds an allocation bomb this way; if the file is trusted and "
            f"legitimately this large, load it with a larger PickleLimits({name}=...)"
        )

    def too_deep(self) -> ContentLimitError:
        return ContentLimitError(
            f"the pickle{self.where()} nests containers more than {self.limits.max_depth} levels deep; the limit "
            "is PickleLimits.max_depth. Load a trusted file with a larger PickleLimits(max_depth=...)"
        )

    def cycle(self) -> ContentLimitError:
        return ContentLimitError(
            f"the pickle{self.where()} builds a container that contains itself; cldata values are trees "
            "(walking this one would never end)"
        )

    # -- accounting ----------------------------------------------------------------------------------

    def charge(self, nbytes: int = 0, objects: int = 0) -> None:
        self.bytes += nbytes
        self.objects += objects
        if self.bytes > self.max_bytes:
            raise self.too_much("bytes")
        if self.objects > self.max_objects:
            raise self.too_much("objects")

    def check_itemsize(self, dtype: np.dtype) -> None:
        # a dtype allocates nothing by itself, but one item of it is what the smallest array allocates
        if dtype.itemsize > self.max_bytes - self.bytes:
            raise self.too_much("bytes")

    # -- dtypes --------------------------------------------------------------------------------------

    def expose(self, dtype: np.dtype) -> np.dtype:
        """Hand ``dtype`` to the pickle: remember it (it may be changed by BUILD from now on)."""
        self.check_itemsize(dtype)
        self.exposed[id(dtype)] = dtype
        return dtype

    def fresh(self, spec: Any) -> np.dtype:
        """A private, validated copy of a dtype the pickle gave (or names with a short string)."""
        if isinstance(spec, (str, bytes)) and len(spec) <= 64:
            try:
                spec = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
            except (TypeError, ValueError) as exc:
                raise self.refuse(f"names the dtype {_describe(spec)}, which numpy does not know ({exc})") from None
        if not isinstance(spec, np.dtype):
            raise self.refuse(f"gives {_describe(spec)} where a numpy dtype belongs")
        return self._rebuilt(spec, 0)

    def _rebuilt(self, d: np.dtype, depth: int) -> np.dtype:
        # Rebuild from the description through numpy's own constructors, checking that every
        # part fits: dtype.__setstate__ lets a pickle set fields, sub-array shapes, item size
        # and flags that contradict each other, and numpy trusts them when it reads a buffer.
        if depth > 32:
            raise self.refuse("builds a dtype nested more than 32 levels deep")
        self.check_itemsize(d)
        self.charge(objects=1)
        sub = d.subdtype
        if sub is not None:
            base, shape = sub
            if not _is_shape(shape) or not isinstance(base, np.dtype) or base.itemsize * math.prod(shape) != d.itemsize:
                raise self.refuse(f"builds a sub-array dtype whose shape does not match its item size ({d.itemsize})")
            return np.dtype((self._rebuilt(base, depth + 1), shape))
        names, fields = d.names, d.fields
        if names is None and fields is None:
            if d.kind not in "biufcmMSUVO" or d.hasobject != (d.kind == "O"):
                raise self.refuse(f"builds a dtype of kind {d.kind!r} with inconsistent flags")
            new = np.dtype(d.str)
            if new.itemsize != d.itemsize:
                raise self.refuse(f"builds a dtype whose item size ({d.itemsize}) does not match its type ({d.str})")
            return new
        if names is None or fields is None or d.kind != "V" or d.hasobject or type(names) is not tuple:
            raise self.refuse("builds a structured dtype with inconsistent fields (or fields holding objects)")
        self.charge(objects=len(names))
        formats, offsets, titles = [], [], []
        for name in names:
            field = fields.get(name) if type(name) is str else None
            if type(field) is not tuple or len(field) not in (2, 3):
                raise self.refuse("builds a structured dtype whose field list does not match its names")
            fd, offset = field[0], field[1]
            title = field[2] if len(field) == 3 else None
            if (not isinstance(fd, np.dtype) or type(offset) is not int or offset < 0
                    or offset + fd.itemsize > d.itemsize or fd.hasobject
                    or not (title is None or type(title) is str)):
                raise self.refuse(f"builds a structured dtype whose field {name!r:.40} lies outside its "
                                  f"{d.itemsize}-byte items (or holds objects)")
            formats.append(self._rebuilt(fd, depth + 1))
            offsets.append(offset)
            titles.append(title)
        spec: dict[str, Any] = {"names": list(names), "formats": formats, "offsets": offsets, "itemsize": d.itemsize}
        if any(t is not None for t in titles):
            spec["titles"] = titles
        try:
            new = np.dtype(spec, align=d.isalignedstruct)
            if d.type is np.record:
                new = np.dtype((np.record, new))
            elif d.type is not np.void:
                raise ValueError(f"scalar type {d.type.__name__}")
        except (TypeError, ValueError) as exc:
            raise self.refuse(f"builds a structured dtype numpy refuses to rebuild ({exc})") from None
        return new

    def dtype_problem(self, d: np.dtype, depth: int = 0, exposed_ok: bool = False) -> str | None:
        """Why an array or scalar may not hold ``d``, as a phrase (None if it may).

        Besides consistency (every part within the item size, flags matching the kind), an
        array's dtype must not be one the pickle can still reach: it could change it later.
        """
        if not exposed_ok and id(d) in self.exposed:
            return "is one the pickle can still change"
        if depth > 32:
            return "is nested too deeply"
        sub = d.subdtype
        if sub is not None:
            base, shape = sub
            if not _is_shape(shape) or base.itemsize * math.prod(shape) != d.itemsize:
                return "has a sub-array shape that does not match its item size"
            return self.dtype_problem(base, depth + 1, exposed_ok)
        if d.names is None and d.fields is None:
            return None if d.hasobject == (d.kind == "O") else "has flags that do not match its kind"
        if d.names is None or d.fields is None or d.hasobject:
            return "has inconsistent fields (or fields holding objects)"
        self.charge(objects=len(d.names))  # checking it is work: a shared dtype is checked each time
        for name in d.names:
            fd, offset = d.fields[name][:2]
            if offset < 0 or offset + fd.itemsize > d.itemsize:
                return f"has a field {name!r:.40} outside its items"
            problem = self.dtype_problem(fd, depth + 1, exposed_ok)
            if problem:
                return problem
        return None

    # -- arrays ----------------------------------------------------------------------------------

    def new_private(self, array: np.ndarray, state_set: bool) -> np.ndarray:
        self.private[id(array)] = [array, state_set, False]
        return array

    def array_state(self, array: np.ndarray, state: Any) -> tuple:
        """Check the state a pickle BUILDs a private array with; return it with a private dtype."""
        record = self.private.get(id(array))
        if record is None or record[0] is not array:
            raise self.refuse("sets the state of an array cldata did not build for it")
        if record[1] or record[2]:
            raise self.refuse("sets the state of an array a second time, or after using it (numpy would free "
                              "memory that other arrays still use)")
        if type(state) is not tuple or len(state) not in (4, 5):
            raise self.refuse(f"sets an array's state to {_describe(state)}")
        version, (shape, dtype, fortran, raw) = (state[0], state[1:]) if len(state) == 5 else (0, state)
        if version not in (0, 1) or not _is_shape(shape) or type(fortran) not in (bool, int):
            raise self.refuse("sets an array's state with a malformed version, shape or order")
        d = self.fresh(dtype)
        count = math.prod(shape)
        if d.hasobject:
            if type(raw) is not list or len(raw) != count:
                raise self.refuse("sets an object array's state without a list of its elements")
            self.charge(nbytes=8 * count, objects=count)
        else:
            if type(raw) not in (bytes, str) or len(raw) != count * d.itemsize:
                raise self.refuse(f"sets an array's state with {_describe(raw)} for {count} items of {d.itemsize} bytes")
            # items of size 0 take no memory but every walk of the array visits them
            self.charge(nbytes=max(count * d.itemsize, count))
        record[1] = True
        return (1, shape, d, bool(fortran), raw)

    def array_problem(self, a: np.ndarray) -> str | None:
        problem = self.dtype_problem(a.dtype)
        return f"dtype {problem}" if problem else None

    # -- walking values --------------------------------------------------------------------------

    def arguments(self, args: tuple) -> tuple:
        """Check, count and make plain the arguments of a call (see :meth:`walk`); a dtype given
        as an argument is replaced by a private copy (the pickle may change the original later)."""
        args = self.walk(args)
        if any(isinstance(a, np.dtype) for a in args):
            args = tuple(self.fresh(a) if isinstance(a, np.dtype) else a for a in args)
        return args

    def walk(self, root: Any) -> Any:
        """Count ``root`` (shared references each time), refuse cycles, too deep nesting and unsafe
        arrays, and return it with every stand-in replaced by the object it stands for."""
        return _walk(self, root)


_ACTIVE: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("cldata_pickle_budget", default=None)


def current_budget() -> _Budget:
    """The budget of the load under way in this thread (see :class:`PickleLimits`)."""
    # a stand-in called outside a load (it leaked into a value somehow) still gets limits
    budget = _ACTIVE.get()
    return budget if budget is not None else _Budget(DEFAULT_LIMITS, 0, "")


def _is_shape(shape: Any) -> bool:
    return type(shape) is tuple and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)


def check_tiny_shape(shape: Any) -> None:
    """Refuse a shape of more than one element: pickles of arrays start from an empty or
    one-element array and then set the real data, so anything larger only allocates."""
    if not _is_shape(shape) or math.prod(shape) > 1:
        raise UnsafeContentError(f"the pickle reconstructs an array of shape {_describe(shape)}; refused")


# --- what the pickle holds instead of the real objects ----------------------------------------------------


class _Entry:
    """An allow-list entry as a pickle sees it: not a class, immutable, callable only through
    the argument checks (or not at all, for classes a pickle may only pass as arguments)."""

    __slots__ = ("name", "value", "_call", "_wrap_arrays")

    def __init__(self, name: str, value: Any, call: Callable[..., Any] | None, wrap_arrays: bool = True):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_call", call)
        object.__setattr__(self, "_wrap_arrays", wrap_arrays)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("allow-list entries are read-only")

    def __setstate__(self, state: Any) -> None:
        # BUILD on a stand-in would change it for every later load in the process
        raise current_budget().refuse(f"sets the state of {self.name}")

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled")

    def __repr__(self) -> str:
        return f"<cldata allow-list entry {self.name}>"

    def __call__(self, *args: Any) -> Any:
        budget = current_budget()
        if self._call is None:
            raise budget.refuse(f"calls {self.name}, which it may only pass as an argument")
        result = self._call(*budget.arguments(args))
        if self._wrap_arrays and isinstance(result, np.ndarray) and not isinstance(result, PrivateValue):
            return Wrapped(result)
        return result


class Wrapped:
    """An ndarray (a neo signal, say) that an allowed constructor returned, as the pickle holds it:
    a BUILD on the array itself would give it any state numpy trusts, so the pickle gets this."""

    __slots__ = ("obj", "_ignore_state")

    def __init__(self, obj: Any, ignore_state: bool = False):
        self.obj = obj
        self._ignore_state = ignore_state

    def __setstate__(self, state: Any) -> None:
        if not self._ignore_state:
            raise current_budget().refuse(f"sets the state of a {type(self.obj).__name__} built by a constructor")

    def __reduce__(self) -> Any:
        raise TypeError("a wrapped value cannot be pickled")


class PrivateValue:
    """Mixin of the private classes a pickle gets instead of public ones (an array whose state
    it may set once, checked): the loaded value holds :meth:`publish` of each instance."""

    __slots__ = ()

    def publish(self) -> Any:
        raise NotImplementedError


class SealedType(type):
    """Metaclass of private classes a pickle may get as classes (for ``NEWOBJ``): a ``BUILD``
    on a class sets class attributes, which these refuse; they stand for ``public_type``."""

    public_type: type

    def __setattr__(cls, name: str, value: Any) -> None:
        raise current_budget().refuse(f"sets the attribute {name!r:.40} of a class")

    def __delattr__(cls, name: str) -> None:
        raise current_budget().refuse(f"deletes the attribute {name!r:.40} of a class")


class PrivateArray(PrivateValue, np.ndarray):
    """What numpy's ``_reconstruct`` gives a pickle: its state may be set once, checked."""

    def __setstate__(self, state: Any) -> None:
        np.ndarray.__setstate__(self, current_budget().array_state(self, state))

    def publish(self) -> np.ndarray:
        return self.view(np.ndarray)


# --- the walk ---------------------------------------------------------------------------------------------

_SCALARS = frozenset({type(None), bool, int, float, complex})
_TEXT = frozenset({str, bytes, bytearray})
_LEAF_TYPES: tuple[type, ...] = (type, types.FunctionType, types.BuiltinFunctionType)
_opaque_leaves: tuple[type, ...] = ()

_LIST, _TUPLE, _DICT, _SET, _FROZENSET, _ARRAY, _OBJECT = range(7)
_CONTAINER = object()


def register_leaf_type(cls: type) -> None:
    """Treat instances of ``cls`` as opaque leaves when walking loaded values (for global
    objects an allowed constructor returns, such as quantities' units, which are not data)."""
    global _opaque_leaves
    if cls not in _opaque_leaves:
        _opaque_leaves = (*_opaque_leaves, cls)


def _leaf(budget: _Budget, x: Any) -> Any:
    """Count a value that is not a container and return what replaces it; _CONTAINER otherwise."""
    if isinstance(x, _Entry):
        budget.objects += 1
        return x.value
    if isinstance(x, np.generic):
        budget.objects += 1
        budget.bytes += x.nbytes
        if isinstance(x, np.void):
            problem = budget.dtype_problem(x.dtype)
            if problem:
                raise budget.refuse(f"builds a numpy scalar whose dtype {problem}")
        return x
    if isinstance(x, np.dtype):
        # a dtype as a value is harmless once the load is over, as long as its parts fit
        budget.objects += 1
        problem = budget.dtype_problem(x, exposed_ok=True)
        if problem:
            raise budget.refuse(f"builds a dtype that {problem}")
        return x
    if isinstance(x, (str, bytes, bytearray)):
        budget.objects += 1
        budget.bytes += len(x)
        return x
    if isinstance(x, _LEAF_TYPES) or isinstance(x, _opaque_leaves):
        budget.objects += 1
        return x.public_type if type(x) is SealedType else x
    if isinstance(x, (list, tuple, dict, set, frozenset, np.ndarray, Wrapped)) or hasattr(x, "__dict__"):
        return _CONTAINER
    budget.objects += 1
    return x


class _Frame:
    """A container being walked: its children are ``items[:members]``, then its attributes."""

    __slots__ = ("obj", "kind", "items", "members", "pos", "objects0", "bytes0", "height", "changes")

    def __init__(self, budget: _Budget, obj: Any):
        self.obj = obj
        self.pos = 0
        self.objects0 = budget.objects
        self.bytes0 = budget.bytes
        self.height = 0
        self.changes: list | None = None
        budget.objects += 1
        items: Any
        if isinstance(obj, list):
            kind, items = _LIST, obj
        elif isinstance(obj, tuple):
            kind, items = _TUPLE, obj
        elif isinstance(obj, dict):
            kind, items = _DICT, [x for pair in obj.items() for x in pair]
        elif isinstance(obj, (set, frozenset)):
            kind, items = (_SET if isinstance(obj, set) else _FROZENSET), list(obj)
        elif isinstance(obj, np.ndarray):
            kind = _ARRAY
            problem = budget.array_problem(obj)
            if problem:
                raise budget.refuse(f"builds a {type(obj).__name__} whose {problem}")
            budget.bytes += max(obj.nbytes, obj.size)
            items = list(obj.flat) if obj.dtype.hasobject else []
        else:
            kind, items = _OBJECT, []
        self.kind = kind
        self.members = len(items)
        # the attributes of objects and of container and array subclasses (neo objects, quantities)
        attrs = getattr(obj, "__dict__", None) if type(obj) not in (list, tuple, dict, set, frozenset) else None
        if attrs:
            if type(attrs) is not dict:
                raise budget.refuse(f"builds a {type(obj).__name__} with odd attributes")
            items = [*items, attrs]
        self.items = items


def _finish(budget: _Budget, frame: _Frame) -> Any:
    """Apply the replacements found among a container's members; return what replaces it.

    Lists, dicts and sets change in place (the memo may share them); tuples and frozensets
    are rebuilt. An attribute dict is never replaced (it changes in place), so only members
    change here.
    """
    obj, kind, n = frame.obj, frame.kind, frame.members
    changes = [(slot, new) for slot, new in frame.changes or () if slot < n]
    if changes:
        try:
            if kind == _LIST:
                for slot, new in changes:
                    obj[slot] = new
            elif kind == _TUPLE:
                items = list(obj)
                for slot, new in changes:
                    items[slot] = new
                obj = tuple(items)
            elif kind == _DICT:
                flat = frame.items
                if any(slot % 2 == 0 for slot, _ in changes):  # a key changes: rebuild, in order
                    flat = list(flat[:n])
                    for slot, new in changes:
                        flat[slot] = new
                    dict.clear(obj)
                    for i in range(0, n, 2):
                        dict.__setitem__(obj, flat[i], flat[i + 1])
                else:
                    for slot, new in changes:
                        dict.__setitem__(obj, flat[slot - 1], new)
            elif kind in (_SET, _FROZENSET):
                items = list(frame.items[:n])
                for slot, new in changes:
                    items[slot] = new
                if kind == _SET:
                    obj.clear()
                    obj.update(items)
                else:
                    obj = frozenset(items)
            elif kind == _ARRAY:
                for slot, new in changes:
                    obj.flat[slot] = new
        except TypeError:  # an unhashable value where a dict key or set member was
            raise budget.refuse(f"builds a {type(obj).__name__} holding unhashable keys or members") from None
    if isinstance(obj, PrivateValue):
        obj = obj.publish()
    return obj


_FLAT_CONTAINERS = frozenset({list, tuple, dict})
_FLAT_ITEMS = _SCALARS | _TEXT


def _text_bytes(items: Any) -> int:
    # the lengths of the str and bytes among ``items``, at C speed (no Python code per item)
    return sum(map(len, compress(items, map(_TEXT.__contains__, map(type, items)))))


def _bulk(budget: _Budget, frame: _Frame, depth: int) -> None:
    """Count a large container's members at once when they are all scalars and text, or all
    plain containers of scalars and text (a catalog column): no Python code per member."""
    items = frame.items
    if frame.kind not in (_LIST, _TUPLE, _DICT) or len(items) < 16 or len(items) != frame.members:
        return
    kinds = set(map(type, items))
    if kinds <= _FLAT_ITEMS:
        budget.objects += len(items)
        if not kinds.isdisjoint(_TEXT):
            budget.bytes += _text_bytes(items)
        frame.items = ()
        return
    if len(kinds) != 1 or not kinds <= _FLAT_CONTAINERS:
        return
    if depth + 1 > budget.limits.max_depth:
        raise budget.too_deep()
    inner = list(chain.from_iterable(items))
    if dict in kinds:
        inner.extend(chain.from_iterable(map(dict.values, items)))
    inner_kinds = set(map(type, inner))
    if not inner_kinds <= _FLAT_ITEMS:
        return
    budget.objects += len(items) + len(inner)
    if not inner_kinds.isdisjoint(_TEXT):
        budget.bytes += _text_bytes(inner)
    frame.items = ()
    frame.height = 1


def _empty(budget: _Budget) -> bool:
    budget.objects += 1
    return True


def _flat(budget: _Budget, obj: Any, t: type) -> bool:
    """Count a plain list, tuple or dict holding only scalars and text; False if it holds more."""
    if t is dict:
        kinds = set(map(type, obj))
        kinds.update(map(type, obj.values()))
        if not kinds <= _FLAT_ITEMS:
            return False
        budget.objects += 1 + 2 * len(obj)
        if not kinds.isdisjoint(_TEXT):
            budget.bytes += _text_bytes(list(obj)) + _text_bytes(list(obj.values()))
        return True
    kinds = set(map(type, obj))
    if not kinds <= _FLAT_ITEMS:
        return False
    budget.objects += 1 + len(obj)
    if not kinds.isdisjoint(_TEXT):
        budget.bytes += _text_bytes(obj)
    return True


def _note(frame: _Frame, slot: int, new: Any) -> None:
    changes = frame.changes
    if changes is None:
        frame.changes = [(slot, new)]
    elif changes[-1][0] == slot:
        changes[-1] = (slot, new)
    else:
        changes.append((slot, new))


def _walk(budget: _Budget, root: Any) -> Any:
    """Count ``root`` into ``budget`` and return it with its stand-ins replaced (see _Budget.walk).

    An iterative depth-first walk (no recursion: values may nest deeply before they are
    refused). Each container is measured once: a second reference to it adds its measured
    size, so the work is linear in the number of distinct containers while the count is that
    of the expanded tree.
    """
    if type(root) is Wrapped:
        root = root.obj
    out = _leaf(budget, root)
    if out is not _CONTAINER:
        budget.charge()
        return out
    max_depth = budget.limits.max_depth
    memo: dict[int, tuple] = {}
    on_path: set[int] = {id(root)}
    _mark_used(budget, root)
    stack = [_Frame(budget, root)]
    _bulk(budget, stack[0], 1)
    while True:
        frame = stack[-1]
        items = frame.items
        i = frame.pos
        n = len(items)
        descend = None
        while i < n:
            child = items[i]
            i += 1
            t = type(child)
            if t in _SCALARS:
                budget.objects += 1
                continue
            if t in _TEXT:
                budget.objects += 1
                budget.bytes += len(child)
                continue
            if t in _FLAT_CONTAINERS and (not child and _empty(budget) or _flat(budget, child, t)):
                # a container of scalars and text (most of a catalog): counted in place, no frame;
                # shared, it is counted again each time, as it would be walked
                if len(stack) >= max_depth:
                    raise budget.too_deep()
                if frame.height < 1:
                    frame.height = 1
                continue
            unwrapped = t is Wrapped
            if unwrapped:
                child = child.obj
            new = _leaf(budget, child)
            if new is not _CONTAINER:
                if unwrapped or new is not child:
                    _note(frame, i - 1, new)
                continue
            seen = memo.get(id(child))
            if seen is not None:
                objects, nbytes, height, new = seen
                budget.charge(nbytes, objects)
                if len(stack) + height > max_depth:
                    raise budget.too_deep()
                if height > frame.height:
                    frame.height = height
                if unwrapped or new is not child:
                    _note(frame, i - 1, new)
                continue
            if id(child) in on_path:
                raise budget.cycle()
            if len(stack) >= max_depth:
                raise budget.too_deep()
            if unwrapped:  # the parent takes the unwrapped object even if nothing inside it changes
                _note(frame, i - 1, child)
            descend = child
            break
        frame.pos = i
        budget.charge()
        if descend is not None:
            _mark_used(budget, descend)
            frame = _Frame(budget, descend)
            _bulk(budget, frame, len(stack) + 1)
            stack.append(frame)
            on_path.add(id(descend))
            continue
        stack.pop()
        on_path.discard(id(frame.obj))
        new = _finish(budget, frame)
        height = frame.height + 1
        memo[id(frame.obj)] = (budget.objects - frame.objects0, budget.bytes - frame.bytes0, height, new)
        if not stack:
            return new
        parent = stack[-1]
        if height > parent.height:
            parent.height = height
        if new is not frame.obj:
            _note(parent, parent.pos - 1, new)


def _mark_used(budget: _Budget, obj: Any) -> None:
    # once an array has been passed on (views of it may exist), its state may no longer be set
    if isinstance(obj, PrivateValue):
        record = budget.private.get(id(obj))
        if record is not None and record[0] is obj:
            record[2] = True


# --- allowed functions --------------------------------------------------------------------------------------


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol 0-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1").
    # Only that use is allowed: other codec names would let a pickle trigger codec imports.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise current_budget().refuse(f"calls _codecs.encode with encoding {_describe(encoding)}; only latin1 is allowed")
    current_budget().charge(nbytes=len(text))
    return codecs.encode(text, "latin1")


def _bounded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles arrays as _reconstruct(ndarray, (0,), b'b') followed by BUILD; the array
    # starts zeroed (never uninitialised memory) and private (its state is checked when set)
    budget = current_budget()
    if subtype is not np.ndarray:
        raise budget.refuse("reconstructs an array subtype outside the allow-list")
    check_tiny_shape(shape)
    d = budget.fresh(dtype)
    budget.charge(nbytes=max(d.itemsize, 1) * max(math.prod(shape), 1))
    return budget.new_private(np.zeros(shape, d).view(PrivateArray), state_set=False)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    from numpy._core.multiarray import scalar

    budget = current_budget()
    d = budget.fresh(dtype)
    if d.hasobject:
        # numpy's scalar(object dtype, x) is x itself (numpy never pickles one): it would hand the
        # pickle a value the opcode scan took for a fresh scalar (a tuple it must not hash)
        raise budget.refuse("builds a numpy object scalar")
    if type(data) not in (bytes, str) or len(data) != d.itemsize:
        raise budget.refuse(f"builds a numpy scalar of {d.itemsize} bytes from {_describe(data)}")
    budget.charge(nbytes=d.itemsize)
    return scalar(d, data.encode("latin1") if isinstance(data, str) else data)


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    # protocol 5 pickles of arrays: the buffer is bytes from the pickle itself
    budget = current_budget()
    if type(buf) not in (bytes, bytearray):
        raise budget.refuse(f"builds an array from {_describe(buf)} instead of bytes")
    d = budget.fresh(dtype)
    if d.hasobject:
        raise budget.refuse("builds an array of Python objects from raw bytes")
    if not _is_shape(shape) or order not in ("C", "F") or d.itemsize == 0 \
            or math.prod(shape) * d.itemsize != len(buf):
        raise budget.refuse(f"builds an array of shape {_describe(shape)} from {len(buf)} bytes")
    budget.charge(nbytes=len(buf))
    array = np.frombuffer(buf, dtype=d).reshape(shape, order=order)
    if isinstance(buf, bytes):  # read-only memory: numpy's own loader gives a writable array
        array = array.copy(order="K")
    return budget.new_private(array.view(PrivateArray), state_set=True)


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    # always a new dtype (a pickle that got numpy's shared float64 dtype could BUILD it)
    budget = current_budget()
    if type(align) is not bool or type(copy) is not bool:
        raise budget.refuse("calls numpy.dtype with non-bool flags")
    try:
        d = np.dtype(spec, align, True)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise budget.refuse(f"builds a dtype numpy refuses ({type(exc).__name__}: {str(exc)[:80]})") from None
    return budget.expose(d)


def _dtype_class(cls: type) -> Callable[..., np.dtype]:
    def build(*args: Any) -> np.dtype:
        budget = current_budget()
        if len(args) > 1 or not all(type(a) in (int, str) for a in args):
            raise budget.refuse(f"calls numpy.dtypes.{cls.__name__} with {_describe(args)}")
        try:
            d = np.dtype(cls(*args), False, True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise budget.refuse(f"builds a dtype numpy refuses ({exc})") from None
        return budget.expose(d)

    return build


def _checked_builtin(name: str, cls: type, check: Callable[[tuple], bool]) -> Callable[..., Any]:
    # builtin types are called by protocol 0-3 pickles (set([...]), complex(1.0, 2.0), bytes());
    # only with plain arguments: str(x) of a container would repr it, bytes(n) allocate n bytes
    def call(*args: Any) -> Any:
        if not check(args):
            raise current_budget().refuse(f"calls {name} with {_describe(args)}")
        return cls(*args)

    return call


def _one(args: tuple, *allowed: type) -> bool:
    return len(args) == 1 and type(args[0]) in allowed


_CONTAINERS = (list, tuple, set, frozenset)
_NUMBER_TEXT = (bool, int, float, str)

_BUILTIN_CHECKS: dict[str, Callable[[tuple], bool]] = {
    "dict": lambda a: not a or _one(a, dict, list, tuple),
    "list": lambda a: not a or _one(a, *_CONTAINERS),
    "set": lambda a: not a or _one(a, *_CONTAINERS),
    "frozenset": lambda a: not a or _one(a, *_CONTAINERS),
    "str": lambda a: not a or _one(a, str) or (
        2 <= len(a) <= 3 and type(a[0]) in (bytes, bytearray) and all(type(x) is str for x in a[1:])),
    "bytes": lambda a: not a or _one(a, bytes, bytearray) or (
        _one(a, list, tuple) and all(type(x) is int for x in a[0])) or (
        2 <= len(a) <= 3 and all(type(x) is str for x in a)),
    "int": lambda a: 1 <= len(a) <= 2 and type(a[0]) in (*_NUMBER_TEXT, bytes) and all(type(x) is int for x in a[1:]),
    "float": lambda a: not a or _one(a, *_NUMBER_TEXT),
    "complex": lambda a: len(a) <= 2 and all(type(x) in (*_NUMBER_TEXT, complex) for x in a),
    "bool": lambda a: not a or _one(a, *_NUMBER_TEXT, complex, bytes, type(None)),
}


class AllowList(Mapping):
    """The globals a pickle may name, as ``(module, name) -> entry``.

    Keys are the names as they appear in pickles (both the Python 2 spellings that
    protocol 0 uses, such as ``__builtin__``, and the Python 3 ones). Each entry stands for
    one object: calling it (the pickle's ``REDUCE``) runs a checked function, and the loaded
    value holds the object itself. Entries given as plain functions or classes are called
    with checked arguments (see the module doc); use :func:`value_only` for classes a
    pickle may pass as arguments but must not call.

    Examples
    --------
    >>> from cldata.core.safe_pickle import ATTRIBUTE_ALLOWLIST
    >>> ("builtins", "set") in ATTRIBUTE_ALLOWLIST
    True
    >>> ("os", "system") in ATTRIBUTE_ALLOWLIST
    False
    """

    def __init__(self, entries: Mapping[tuple[str, str], Any]):
        self._entries = {key: _as_entry(key, value) for key, value in dict(entries).items()}

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self._entries[key]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def extended(self, entries: Mapping[tuple[str, str], Any] | Iterable[Any]) -> AllowList:
        """Return a new allow-list with more entries.

        ``entries`` is either a mapping like this one, or an iterable of classes and
        functions, each allowed under its own ``__module__`` and ``__qualname__``.
        """
        more: dict[tuple[str, str], Any] = dict(self._entries)
        if isinstance(entries, Mapping):
            more.update(entries)
        else:
            for obj in entries:
                more[(obj.__module__, obj.__qualname__)] = obj
        return AllowList(more)


def _as_entry(key: tuple[str, str], value: Any) -> Any:
    if isinstance(value, _Entry) or type(value) is SealedType:
        return value
    return _Entry(".".join(key), value, value)


def entry(name: str, value: Any, call: Callable[..., Any] | None, *, wrap_arrays: bool = True) -> _Entry:
    """An allow-list entry for ``value``: what the loaded value holds where a pickle names it.

    ``call`` is what calling it runs (after the argument checks), or None if the pickle may
    only pass it as an argument. An ndarray the call returns reaches the pickle wrapped
    (``wrap_arrays``), so that the pickle cannot set its state.
    """
    return _Entry(name, value, call, wrap_arrays)


def value_only(name: str, value: Any) -> _Entry:
    """An allow-list entry a pickle may pass as an argument but never call."""
    return _Entry(name, value, None)


def _base_entries() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric

    entries: dict[tuple[str, str], Any] = {}
    for module in ("builtins", "__builtin__"):
        for name, check in _BUILTIN_CHECKS.items():
            cls = getattr(builtins, name)
            entries[(module, name)] = entry(f"builtins.{name}", cls, _checked_builtin(name, cls, check))
        # no pickler calls tuple() (tuples have opcodes); a tuple it returned could be a dict key the
        # opcode scan never measured
        entries[(module, "tuple")] = value_only("builtins.tuple", tuple)
    entries[("_codecs", "encode")] = entry("_codecs.encode", codecs.encode, _latin1_encode)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries[(module, "_reconstruct")] = entry(f"{module}._reconstruct", multiarray._reconstruct,
                                                  _bounded_reconstruct)
        entries[(module, "scalar")] = entry(f"{module}.scalar", multiarray.scalar, _numpy_scalar)
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        entries[(module, "_frombuffer")] = entry(f"{module}._frombuffer", numeric._frombuffer, _numpy_frombuffer)
    entries[("numpy", "ndarray")] = value_only("numpy.ndarray", np.ndarray)
    entries[("numpy", "dtype")] = entry("numpy.dtype", np.dtype, _numpy_dtype)
    # pickles may name dtype classes (numpy.dtypes.Float64DType ...); calling one makes a dtype
    for name in dir(np.dtypes):
        cls = getattr(np.dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype) and name not in ("ObjectDType", "StringDType"):
            entries[("numpy.dtypes", name)] = entry(f"numpy.dtypes.{name}", cls, _dtype_class(cls))
    return entries


ATTRIBUTE_ALLOWLIST = AllowList(_base_entries())
"""What a PyTables attribute pickle may contain: builtin containers and scalars, numpy arrays,
scalars and dtypes. This is the allow-list DESIGN.md §1 names for CL recording attributes."""


# --- the opcode scan -----------------------------------------------------------------------------------------
#
# What the C unpickler does without calling back into Python, and so without any hook: it
# hashes dict keys and set members (SETITEM(S), DICT, ADDITEMS, FROZENSET), grows its memo
# table to the largest index a PUT names, and allocates the length a BINBYTES8 claims before
# reading it. A tuple key hashes all its nested tuples (no caching): 40 levels of shared pairs
# take 2**40 steps, and a tuple nested 100,000 deep overflows the C stack (a crash); a
# 9-byte pickle with PUT 100,000,000 makes the unpickler fill 1.5 GB. So before loading, one
# pass over the opcodes (no objects built) follows the stack just enough to know each value's
# hashing cost (tuples: their expanded size; frozensets: their length; big ints: their size;
# anything else: 1) and nesting, and refuses what the C code would not survive.

_ARG_SIZE: list[int | None] = [None] * 256  # 0 none, n fixed, -1/-4/-8 length-prefixed, -10 a line, -20 two
_STACK_EFFECT: list[tuple[int, int]] = [(0, 0)] * 256  # (pops, pushes); pops < 0: to the mark and -pops-1 below
for _op in pickletools.opcodes:
    _code, _arg = ord(_op.code), _op.arg
    if _arg is None:
        _ARG_SIZE[_code] = 0
    elif _arg.n > 0:
        _ARG_SIZE[_code] = _arg.n
    elif _arg.n == pickletools.UP_TO_NEWLINE:
        _ARG_SIZE[_code] = -10
    elif _arg.n == pickletools.TAKEN_FROM_ARGUMENT1:
        _ARG_SIZE[_code] = -1
    elif _arg.n in (pickletools.TAKEN_FROM_ARGUMENT4, pickletools.TAKEN_FROM_ARGUMENT4U):
        _ARG_SIZE[_code] = -4
    elif _arg.n == pickletools.TAKEN_FROM_ARGUMENT8U:
        _ARG_SIZE[_code] = -8
    _before = [s.name for s in _op.stack_before]
    _pops = -1 - _before.index("mark") if "mark" in _before else len(_before)
    _STACK_EFFECT[_code] = (_pops, len(_op.stack_after))
_ARG_SIZE[ord("c")] = _ARG_SIZE[ord("i")] = -20  # GLOBAL, INST: module and name lines
_ARG_SIZE[0x95] = 8  # FRAME: its length; the framed opcodes follow
del _op, _code, _arg, _before, _pops

_SHIFT = 16  # a stack value is its hashing cost << _SHIFT | its tuple nesting
_DEPTH = (1 << _SHIFT) - 1
_ONE = 1 << _SHIFT  # a value that costs one step to hash and nests nothing
_MEMO_SLACK = 1 << 16  # memo indices allowed beyond the stores so far (picklers store in order)


class _Scan:
    """One pass over a pickle's opcodes before it is loaded (see the comment above)."""

    __slots__ = ("data", "budget", "stack", "marks", "memo", "cost", "puts")

    def __init__(self, data: bytes, budget: _Budget):
        self.data, self.budget = data, budget
        self.stack: list[int] = []
        self.marks: list[int] = []
        self.memo: dict[int, int] = {}  # what PUT stored: index -> value, for values other than _ONE
        self.cost = 0
        self.puts = 0  # PUT opcodes so far (a pickle uses these or MEMOIZE, never both)

    def malformed(self, what: str) -> pickle.UnpicklingError:
        return pickle.UnpicklingError(f"the pickle{self.budget.where()} is malformed: {what}")

    def hashing(self, values: list[int]) -> None:
        self.cost += sum(values) >> _SHIFT
        if self.cost > self.budget.max_objects:
            raise ContentLimitError(
                f"the pickle{self.budget.where()} uses dict keys or set members that would take more than "
                f"{self.budget.max_objects:,} steps to hash (tuples nested through shared references); the "
                "limit is PickleLimits.max_objects plus 2 per byte of the pickle")

    def run(self, i: int) -> None:
        data, stack, marks = self.data, self.stack, self.marks
        memo: list[int] = []  # what MEMOIZE stored, in order (PUT pickles use self.memo instead)
        push, remember, n, frombytes, one = stack.append, memo.append, len(data), int.from_bytes, _ONE
        puts = 0
        try:
            while i < n:
                op = data[i]
                i += 1
                # the opcodes a catalog is made of first: each test costs time on millions of them
                if op == 0x94:  # MEMOIZE
                    if puts:
                        raise self.malformed("it mixes PUT and MEMOIZE, which no pickler does")
                    remember(stack[-1])
                    continue
                if op == 0x8C:  # SHORT_BINUNICODE
                    i += 1 + data[i]
                    push(one)
                    continue
                if op == 0x6A:  # LONG_BINGET
                    j = frombytes(data[i:i + 4], "little")
                    push(memo[j] if j < len(memo) else self.memo.get(j, one))
                    i += 4
                    continue
                if op == 0x7D or op == 0x5D or op == 0x4E:  # EMPTY_DICT, EMPTY_LIST, NONE
                    push(one)
                    continue
                if op == 0x28:  # MARK
                    marks.append(len(stack))
                    continue
                if op == 0x75:  # SETITEMS: the keys are hashed
                    m = marks.pop()
                    if m < 1:
                        raise IndexError
                    keys = stack[m::2]
                    if keys.count(one) != len(keys):
                        self.hashing(keys)
                    else:
                        self.cost += len(keys)
                    del stack[m:]
                    continue
                if op == 0x4B or op == 0x89 or op == 0x88:  # BININT1, NEWFALSE, NEWTRUE
                    i += op == 0x4B
                    push(one)
                    continue
                if op == 0x43:  # SHORT_BINBYTES
                    i += 1 + data[i]
                    push(one)
                    continue
                if op == 0x73:  # SETITEM
                    if len(stack) < 3:
                        raise IndexError
                    self.hashing(stack[-2:-1])
                    del stack[-2:]
                    continue
                if op == 0x68:  # BINGET
                    j = data[i]
                    push(memo[j] if j < len(memo) else self.memo.get(j, one))
                    i += 1
                    continue
                if op == 0x65:  # APPENDS
                    m = marks.pop() - 1
                    if m < 0:
                        raise IndexError
                    del stack[m:]
                    push(one)
                    continue
                if op == 0x2E:  # STOP
                    if not stack:
                        raise IndexError
                    self.hashing([])  # the cost SETITEMS counted without checking
                    return
                if memo and op in (0x70, 0x71, 0x72):
                    raise self.malformed("it mixes PUT and MEMOIZE, which no pickler does")
                i = self.other(op, i)
                puts = self.puts
        except IndexError:
            raise self.malformed("its stack or its data ends too soon") from None
        raise self.malformed("it has no STOP")

    def other(self, op: int, i: int) -> int:
        data, stack, marks, budget = self.data, self.stack, self.marks, self.budget
        if op in (0x74, 0x85, 0x86, 0x87):  # TUPLE, TUPLE1..3
            m = marks.pop() if op == 0x74 else len(stack) - (op - 0x84)
            if m < 0:
                raise IndexError
            items = stack[m:]
            del stack[m:]
            cost = 1 + (sum(items) >> _SHIFT)
            depth = 1 + max([v & _DEPTH for v in items], default=0)
            if depth > min(budget.limits.max_depth, _DEPTH) or cost > budget.max_objects:
                raise ContentLimitError(
                    f"the pickle{budget.where()} builds a tuple nested {depth} deep or of {cost:,} values counting "
                    "shared references each time, beyond PickleLimits.max_depth or max_objects (hashing it, the "
                    "unpickler would run without end or overflow its stack)")
            stack.append(cost << _SHIFT | depth)
            return i
        if op in (0x90, 0x91, 0x64):  # ADDITEMS, FROZENSET, DICT: hash the members or keys
            m = marks.pop()
            if m < (op == 0x90):
                raise IndexError
            size = len(stack) - m
            self.hashing(stack[m::2] if op == 0x64 else stack[m:])
            del stack[m - (op == 0x90):]
            stack.append((1 + size) << _SHIFT if op == 0x91 else _ONE)
            return i
        size = _ARG_SIZE[op]
        if size is None:
            raise self.malformed(f"unknown opcode {op:#x}")
        start = i
        if op == 0x95 or size in (-1, -4, -8):  # FRAME and the opcodes followed by as many bytes as they say
            width = 8 if op == 0x95 else -size
            length = int.from_bytes(data[i:i + width], "little")
            if i + width + length > len(data):
                # the C unpickler would allocate the length before finding out (a terabyte, say)
                raise ContentLimitError(
                    f"the pickle{budget.where()} claims {length:,} bytes for one value but holds "
                    f"{len(data) - i:,} more (the unpickler would allocate the claimed size first)")
            i += width + (0 if op == 0x95 else length)
        elif size > 0:
            i += size
        elif size < 0:
            end = data.find(b"\n", i)
            if size == -20 and end >= 0:
                end = data.find(b"\n", end + 1)
            if end < 0:
                raise self.malformed("a line has no end")
            i = end + 1
        if i > len(data):
            raise IndexError
        if op in (0x70, 0x71, 0x72):  # PUT, BINPUT, LONG_BINPUT
            try:
                index = data[start] if op == 0x71 else (int.from_bytes(data[start:start + 4], "little")
                                                         if op == 0x72 else int(data[start:i - 1]))
            except ValueError:
                raise self.malformed("a memo index is not a number") from None
            if not 0 <= index <= self.puts + _MEMO_SLACK:
                raise ContentLimitError(
                    f"the pickle{budget.where()} stores at memo index {index:,} after {self.puts:,} stores (the "
                    "unpickler would allocate a memo table that large, 16 bytes per index)")
            self.puts += 1
            if stack[-1] != _ONE:
                self.memo[index] = stack[-1]
            else:
                self.memo.pop(index, None)
        elif op == 0x67:  # GET
            try:
                stack.append(self.memo.get(int(data[start:i - 1]), _ONE))
            except ValueError:
                raise self.malformed("a memo index is not a number") from None
        elif op in (0x8A, 0x8B):  # LONG1, LONG4: hashing an int takes time in its size
            stack.append((1 + (i - start) // 8) << _SHIFT)
        elif op == 0x32:  # DUP
            stack.append(stack[-1])
        elif op == 0x29:  # EMPTY_TUPLE: a level of nesting, as the walk counts it
            stack.append(_ONE | 1)
        elif op == 0x30:  # POP: with nothing above the last mark, the unpickler pops the mark
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                stack.pop()
        else:
            pops, pushes = _STACK_EFFECT[op]
            if pops < 0:
                m = marks.pop() + pops + 1
                if m < 0:
                    raise IndexError
                del stack[m:]
            elif pops:
                if len(stack) < pops:
                    raise IndexError
                del stack[-pops:]
            stack.extend([_ONE] * pushes)
        return i


# --- the unpickler ------------------------------------------------------------------------------------------


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` whose globals come only from an :class:`AllowList`, within limits.

    Parameters
    ----------
    file
        A binary file-like object holding the pickle.
    allowlist
        What the pickle may name; :data:`ATTRIBUTE_ALLOWLIST` by default.
    source
        Where the bytes came from, used in error messages (a file and node path, say).
    limits
        How much the pickle may build (:data:`DEFAULT_LIMITS` by default; see :class:`PickleLimits`).
        They grow with the pickle's length: the unpickler reads ``file`` whole when it is made, and
        scans the opcodes before it loads them.

    Examples
    --------
    >>> import io, pickle
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps([1, 2.5, "x"]))).load()
    [1, 2.5, 'x']
    """

    def __init__(self, file: Any, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = "",
                 limits: PickleLimits | None = None):
        # the opcodes are scanned before they are loaded (see _Scan), so the pickle is read whole
        self._data = file.getvalue() if isinstance(file, io.BytesIO) and file.tell() == 0 else file.read()
        self._input = io.BytesIO(self._data)
        super().__init__(self._input, fix_imports=False, encoding="latin1")
        self._allowlist = allowlist
        self._source = source
        self._limits = limits if limits is not None else DEFAULT_LIMITS

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowlist[(module, name)]
        except KeyError:
            where = f" in {self._source}" if self._source else ""
            raise UnsafeContentError(
                f"the pickle{where} names {module}.{name}, which is not on cldata's allow-list "
                "of types that are safe to load; nothing was executed. If this file comes "
                "from a source you do not fully trust, do not load it with plain pickle."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeContentError("the pickle refers to a persistent object; refused")

    def load(self) -> Any:
        """Load the pickle, then check and count the value (see the module doc) and return it."""
        start = self._input.tell()
        budget = _Budget(self._limits, len(self._data) - start, self._source)
        _Scan(self._data, budget).run(start)
        token = _ACTIVE.set(budget)
        try:
            return budget.walk(super().load())
        except MemoryError:
            # the C unpickler allocates the length a BINBYTES8/BINUNICODE8 opcode claims before it
            # reads the bytes: a few bytes can claim a terabyte (nothing is touched; malloc fails)
            raise ContentLimitError(
                f"the pickle{budget.where()} asks for more memory than this process can allocate; refused") from None
        finally:
            _ACTIVE.reset(token)


def safe_loads(data: bytes, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = "",  # noqa: D417
               limits: PickleLimits | None = None) -> Any:
    """Unpickle ``data``, building only objects from ``allowlist``, within ``limits``.

    Raises
    ------
    cldata.errors.UnsafeContentError
        If the pickle names anything outside the allow-list (nothing has run).
    cldata.errors.ContentLimitError
        If it would build more, or nest deeper, than ``limits`` allow (:data:`DEFAULT_LIMITS`
        unless given; see :class:`PickleLimits`), or build a container that contains itself.
    pickle.UnpicklingError
        If ``data`` is not a well-formed pickle.

    Examples
    --------
    >>> import numpy as np, pickle
    >>> safe_loads(pickle.dumps(np.arange(3)))
    array([0, 1, 2])
    """
    data = bytes(data)
    try:
        return RestrictedUnpickler(io.BytesIO(data), allowlist, source, limits).load()
    except UnsafeContentError as exc:
        text = str(exc)
        if source and source not in text:
            raise type(exc)(f"{text} (in {source})") from None
        raise


class _GuardedPickleModule(types.ModuleType):
    """Stands in for the ``pickle`` module inside ``tables.attributeset``.

    PyTables calls ``pickle.loads`` on any attribute that looks pickled and, when that
    raises, hands back the raw bytes. Routing that call through :func:`safe_loads` means
    a forbidden pickle is never executed; cldata's attribute reader then sees the raw bytes
    and raises :class:`~cldata.errors.UnsafeContentError` with a clear message.
    """

    def __init__(self) -> None:
        super().__init__("pickle")
        self.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
        self.loads = self._guarded_loads

    @staticmethod
    def _guarded_loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
        return safe_loads(data)


def install_pytables_guard() -> None:
    """Make PyTables unpickle node attributes through the allow-list, for the whole process.

    Called when cldata is imported. PyTables then still reads every attribute whose pickle
    holds only builtin containers, scalars and numpy values (what CL recordings hold); any
    other pickled attribute comes back as its raw bytes, as PyTables already does for
    pickles it cannot load, and is never executed.

    Examples
    --------
    >>> import tables.attributeset
    >>> install_pytables_guard()
    >>> tables.attributeset.pickle.loads is pickle.loads
    False
    """
    attributeset = sys.modules.get("tables.attributeset")
    if attributeset is None:
        import tables.attributeset as attributeset
    if not isinstance(attributeset.pickle, _GuardedPickleModule):
        attributeset.pickle = _GuardedPickleModule()
