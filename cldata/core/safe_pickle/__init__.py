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
pickle is first scanned, one pass over its opcodes that builds nothing (:mod:`~cldata.core.safe_pickle.scan`), and
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

Where each part lives
---------------------
:mod:`~cldata.core.safe_pickle.limits`
    :class:`PickleLimits`: how much one pickle may make the loader build.
:mod:`~cldata.core.safe_pickle.allowlist`, :mod:`~cldata.core.safe_pickle.calls`
    what a pickle may name, and the checked functions the base entries run.
:mod:`~cldata.core.safe_pickle.standins`
    what the pickle holds instead of the real objects.
:mod:`~cldata.core.safe_pickle.budget`
    the accounting of one load, and numpy's dtypes and arrays checked.
:mod:`~cldata.core.safe_pickle.walk`
    the loaded value counted and its stand-ins replaced.
:mod:`~cldata.core.safe_pickle.scan`
    the opcodes scanned before the C unpickler runs them.
:mod:`~cldata.core.safe_pickle.unpickler`
    :class:`RestrictedUnpickler` and :func:`safe_loads`, which put these together.
:mod:`~cldata.core.safe_pickle.pytables_guard`
    :func:`install_pytables_guard`: PyTables' attribute pickles go through :func:`safe_loads`.

Example
-------
>>> import pickle
>>> from cldata.core.safe_pickle import safe_loads
>>> safe_loads(pickle.dumps({"culture": "C7", "session": 3}, 0))
{'culture': 'C7', 'session': 3}
>>> import os
>>> safe_loads(b"cos\\nsystem\\n(S'true'\\ntR.")
Traceback (most recent call last):
..."""

from cldata.core.safe_pickle.allowlist import ATTRIBUTE_ALLOWLIST, AllowList, entry, value_only
from cldata.core.safe_pickle.budget import check_tiny_shape, current_budget
from cldata.core.safe_pickle.limits import DEFAULT_LIMITS, PickleLimits
from cldata.core.safe_pickle.pytables_guard import install_pytables_guard
from cldata.core.safe_pickle.standins import PrivateValue, SealedType, Wrapped
from cldata.core.safe_pickle.unpickler import RestrictedUnpickler, safe_loads
from cldata.core.safe_pickle.walk import register_leaf_type

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
