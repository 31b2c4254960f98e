"""The budget of one load: what the pickle has made the loader build, checked against its limits.

A :class:`Budget` lives for one load (the one under way is :func:`current_budget`). It counts
bytes and values as allowed constructors build them, as calls receive their arguments
(:meth:`Budget.arguments`) and as the loaded value is walked (:meth:`Budget.walk`, see
:mod:`cldata.core.safe_pickle.walk`), and raises :class:`~cldata.errors.ContentLimitError`
past its :class:`~cldata.core.safe_pickle.limits.PickleLimits`. It also guards numpy's trust
in pickled state: a dtype the pickle gave is used only as a private copy rebuilt through
numpy's validating constructors (:meth:`Budget.fresh`), and the private arrays
(:class:`PrivateArray`) a pickle may set the state of are checked when it does, once, and
only before they are used (:meth:`Budget.array_state`).

Examples
--------
>>> from cldata.core.safe_pickle.limits import PickleLimits
>>> budget = Budget(PickleLimits(max_objects=10), size=0, source="rec.h5")
>>> budget.charge(objects=11)
Traceback (most recent call last):
...
cldata.errors.ContentLimitError: the pickle in rec.h5 would build more than 10 values ...
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cldata.core.safe_pickle.limits import DEFAULT_LIMITS, PickleLimits, describe, is_shape
from cldata.core.safe_pickle.standins import ACTIVE, PrivateValue
from cldata.core.safe_pickle.walk import walk
from cldata.errors import ContentLimitError, UnsafeContentError

__all__ = ["Budget", "PrivateArray", "check_tiny_shape", "current_budget"]


class Budget:
    """What one load has used, and the objects it must keep an eye on (see the module doc).

    Parameters
    ----------
    limits
        The load's limits.
    size
        The pickle's length in bytes (the limits grow with it).
    source
        Where the pickle came from, for error messages ("" when unknown).

    Examples
    --------
    >>> from cldata.core.safe_pickle import DEFAULT_LIMITS
    >>> budget = Budget(DEFAULT_LIMITS, size=100, source="")
    >>> budget.charge(nbytes=10, objects=2); budget.bytes, budget.objects
    (10, 2)
    """

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
                raise self.refuse(f"names the dtype {describe(spec)}, which numpy does not know ({exc})") from None
        if not isinstance(spec, np.dtype):
            raise self.refuse(f"gives {describe(spec)} where a numpy dtype belongs")
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
            if not is_shape(shape) or not isinstance(base, np.dtype) or base.itemsize * math.prod(shape) != d.itemsize:
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
            if not is_shape(shape) or base.itemsize * math.prod(shape) != d.itemsize:
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
            raise self.refuse(f"sets an array's state to {describe(state)}")
        version, (shape, dtype, fortran, raw) = (state[0], state[1:]) if len(state) == 5 else (0, state)
        if version not in (0, 1) or not is_shape(shape) or type(fortran) not in (bool, int):
            raise self.refuse("sets an array's state with a malformed version, shape or order")
        d = self.fresh(dtype)
        count = math.prod(shape)
        if d.hasobject:
            if type(raw) is not list or len(raw) != count:
                raise self.refuse("sets an object array's state without a list of its elements")
            self.charge(nbytes=8 * count, objects=count)
        else:
            if type(raw) not in (bytes, str) or len(raw) != count * d.itemsize:
                raise self.refuse(f"sets an array's state with {describe(raw)} for {count} items of {d.itemsize} bytes")
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
        return walk(self, root)



def current_budget() -> Budget:
    """The budget of the load under way in this thread (see :class:`PickleLimits`)."""
    # a stand-in called outside a load (it leaked into a value somehow) still gets limits
    budget = ACTIVE.get()
    return budget if budget is not None else Budget(DEFAULT_LIMITS, 0, "")


def check_tiny_shape(shape: Any) -> None:
    """Refuse a shape of more than one element: pickles of arrays start from an empty or
    one-element array and then set the real data, so anything larger only allocates."""
    if not is_shape(shape) or math.prod(shape) > 1:
        raise UnsafeContentError(f"the pickle reconstructs an array of shape {describe(shape)}; refused")


class PrivateArray(PrivateValue, np.ndarray):
    """What numpy's ``_reconstruct`` gives a pickle: its state may be set once, checked."""

    def __setstate__(self, state: Any) -> None:
        np.ndarray.__setstate__(self, current_budget().array_state(self, state))

    def publish(self) -> np.ndarray:
        return self.view(np.ndarray)
