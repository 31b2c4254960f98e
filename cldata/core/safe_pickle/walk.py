"""The walk of a loaded value: count it into the load's budget and replace every stand-in.

Values are counted in the arguments of every call and in the loaded value, *shared
references counted each time they are used*: a pickle can name one list from many places
through its memo, so 321 bytes can stand for a tree of 2**40 values, which every later walk
of the value (``to_dict``, ``cldata info``, the catalog codec) would expand. Counting the
expanded tree bounds them all; the count itself is linear in the pickle, since each shared
container is measured once and a second reference adds its measured size. A container that
contains itself is refused (cldata values are trees), and so is nesting deeper than the
limits allow. Stand-ins (:mod:`cldata.core.safe_pickle.standins`) are replaced by the objects
they stand for, private values by what they publish.

The walk is iterative (values may nest deeply before they are refused) and counts the common
case, containers of scalars and text (most of a catalog), without Python code per member.

Examples
--------
>>> from cldata.core.safe_pickle import DEFAULT_LIMITS
>>> from cldata.core.safe_pickle.budget import Budget
>>> budget = Budget(DEFAULT_LIMITS, 0, "")
>>> shared = [1, 2]
>>> walk(budget, [shared, shared]), budget.objects
([[1, 2], [1, 2]], 7)
"""

from __future__ import annotations

import types
from itertools import chain, compress
from typing import TYPE_CHECKING, Any

import numpy as np

from cldata.core.safe_pickle.standins import PrivateValue, SealedType, StandIn, Wrapped

if TYPE_CHECKING:  # the budget calls the walk: its type only, for annotations
    from cldata.core.safe_pickle.budget import Budget

__all__ = ["register_leaf_type", "walk"]

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



def _leaf(budget: Budget, x: Any) -> Any:
    """Count a value that is not a container and return what replaces it; _CONTAINER otherwise."""
    if isinstance(x, StandIn):
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

    def __init__(self, budget: Budget, obj: Any):
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



def _set_list(obj: Any, frame: _Frame, changes: list) -> Any:
    for slot, new in changes:
        obj[slot] = new
    return obj


def _set_tuple(obj: Any, frame: _Frame, changes: list) -> Any:
    items = list(obj)
    for slot, new in changes:
        items[slot] = new
    return tuple(items)


def _set_dict(obj: Any, frame: _Frame, changes: list) -> Any:
    flat, n = frame.items, frame.members
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
    return obj


def _set_set(obj: Any, frame: _Frame, changes: list) -> Any:
    items = list(frame.items[:frame.members])
    for slot, new in changes:
        items[slot] = new
    if frame.kind == _FROZENSET:
        return frozenset(items)
    obj.clear()
    obj.update(items)
    return obj


def _set_array(obj: Any, frame: _Frame, changes: list) -> Any:
    for slot, new in changes:
        obj.flat[slot] = new
    return obj


def _set_nothing(obj: Any, frame: _Frame, changes: list) -> Any:
    return obj  # an object's attribute dict changes in place


# how each kind of container takes its members' replacements, by kind (_LIST, _TUPLE, ...)
_REPLACE = (_set_list, _set_tuple, _set_dict, _set_set, _set_set, _set_array, _set_nothing)


def _finish(budget: Budget, frame: _Frame) -> Any:
    """Apply the replacements found among a container's members; return what replaces it.

    Lists, dicts and sets change in place (the memo may share them); tuples and frozensets
    are rebuilt. An attribute dict is never replaced (it changes in place), so only members
    change here.
    """
    obj, n = frame.obj, frame.members
    changes = [(slot, new) for slot, new in frame.changes or () if slot < n]
    if changes:
        try:
            obj = _REPLACE[frame.kind](obj, frame, changes)
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


def _bulk(budget: Budget, frame: _Frame, depth: int) -> None:
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


def _empty(budget: Budget) -> bool:
    budget.objects += 1
    return True


def _flat(budget: Budget, obj: Any, t: type) -> bool:
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


def _child(budget: Budget, frame: _Frame, slot: int, child: Any, memo: dict[int, tuple], on_path: set[int],
           depth: int) -> Any:
    """Count a member that is not a scalar, text or a flat container; return it if it is a
    container to descend into (None otherwise), noting in ``frame`` what replaces it."""
    unwrapped = type(child) is Wrapped
    if unwrapped:
        child = child.obj
    new = _leaf(budget, child)
    if new is not _CONTAINER:
        if unwrapped or new is not child:
            _note(frame, slot, new)
        return None
    seen = memo.get(id(child))
    if seen is not None:
        objects, nbytes, height, new = seen
        budget.charge(nbytes, objects)
        if depth + height > budget.limits.max_depth:
            raise budget.too_deep()
        if height > frame.height:
            frame.height = height
        if unwrapped or new is not child:
            _note(frame, slot, new)
        return None
    if id(child) in on_path:
        raise budget.cycle()
    if depth >= budget.limits.max_depth:
        raise budget.too_deep()
    if unwrapped:  # the parent takes the unwrapped object even if nothing inside it changes
        _note(frame, slot, child)
    return child


def _members(budget: Budget, frame: _Frame, depth: int, memo: dict[int, tuple], on_path: set[int]) -> Any:
    """Count ``frame``'s members from where it stopped; return the first container to descend
    into (None once every member is counted)."""
    max_depth = budget.limits.max_depth
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
            if depth >= max_depth:
                raise budget.too_deep()
            if frame.height < 1:
                frame.height = 1
            continue
        descend = _child(budget, frame, i - 1, child, memo, on_path, depth)
        if descend is not None:
            break
    frame.pos = i
    return descend


def walk(budget: Budget, root: Any) -> Any:
    """Count ``root`` into ``budget`` and return it with its stand-ins replaced (see the module doc).

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
    memo: dict[int, tuple] = {}
    on_path: set[int] = {id(root)}
    _mark_used(budget, root)
    stack = [_Frame(budget, root)]
    _bulk(budget, stack[0], 1)
    while True:
        frame = stack[-1]
        descend = _members(budget, frame, len(stack), memo, on_path)
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


def _mark_used(budget: Budget, obj: Any) -> None:
    # once an array has been passed on (views of it may exist), its state may no longer be set
    if isinstance(obj, PrivateValue):
        record = budget.private.get(id(obj))
        if record is not None and record[0] is obj:
            record[2] = True
