"""Conformance suites, as pytest tests: what every cldata storage backend (:class:`BackendTests`)
and every catalog engine (:class:`CatalogEngineTests`, :mod:`cldata.testing.engine_suite`) must do.

:class:`BackendTests` is made of its parts, one module each: the fixtures and helpers
(:mod:`~cldata.testing.backend_helpers`), the round trips and queries
(:mod:`~cldata.testing.backend_round_trips`), the commits (:mod:`~cldata.testing.backend_commits`)
and the stores written by strangers (:mod:`~cldata.testing.backend_strangers`).

cldata ships this suite (as zarr ships ``zarr.testing.StoreTests``) so that a backend
written as a plugin is checked exactly as the built-in ``hdf5`` and ``pickle`` backends
are. :class:`BackendTests` is a plain pytest class; a subclass names a registered backend
and inherits every test. The tests use only the public API (:func:`cldata.open`, the
store's ``add_*`` / ``remove_*`` / ``commit`` / ``rollback`` / ``refresh``, views and
queries), on small real CL recordings written by :func:`cldata.format.simulate.simulate_recording`
and :class:`cldata.RecordingWriter`. They check that:

- an empty store is created and reopened, and remembers its backend;
- recordings (copied, or linked with ``link=True``) read back the same: parameters (the
  user's merged over the file's attributes), summary, data streams, and the recording as
  a neo Segment; a moved linked file raises :class:`~cldata.errors.BrokenLinkError`
  naming it;
- analysis results of every kind (single values, per-channel values, time series, neo
  signals and spike trains with waveforms, nested data with arrays and bytes, and
  payloads larger than the catalog's inline limit) read back equal: values, units,
  dtypes, neo annotations, parameters, sources, tags, ids and order;
- duplicates raise and leave the store as it was; ``replace=True`` replaces;
- removals (with and without ``cascade``), rollbacks, ``close(commit=False)``, a
  ``with`` block that raises, and a commit interrupted half-way (after the payloads are
  written: in a store whose catalog is SQLite, and in one whose catalog is the backend's
  own segment log, ``catalog="backend"``) all leave exactly the last committed state;
  many commits in a row (enough to compact segmented catalogs) keep the right content;
- readers see only commits, and :meth:`~cldata.DataStore.refresh` shows later ones; a
  second writer gets :class:`~cldata.errors.StoreLockedError` while readers keep
  working; a read-only store refuses every change; a directory that is not a store is
  refused with :class:`~cldata.errors.StoreFormatError`;
- parameter queries give the same answers on every backend;
- a store written by a stranger runs no code when it is opened and read: catalog segments
  (of a segment-log store) and payloads (referenced from either catalog) replaced by
  hostile bytes (a pickle that would create a file, a msgpack-numpy object array that
  would unpickle one, and what :meth:`BackendTests.hostile_bytes` adds
  in the backend's own framing) raise a :class:`~cldata.errors.CldataError` and create
  nothing. A backend that unpickles what it reads fails these tests.

The whole suite takes a few seconds per backend. It needs pytest (``pip install
pytest``), which cldata itself does not require.

Examples
--------
A plugin package registers its backend under the entry-point group ``cldata.backends``
(see :mod:`cldata.backends.registry`) and, in its own tests, subclasses the suite:

.. code-block:: python

    # tests/test_conformance.py of the package "cldata-mybackend"
    from cldata.testing import BackendTests


    class TestMyBackend(BackendTests):
        backend_name = "mybackend"            # the entry-point name
        backend_options = {"compress": True}  # optional: passed to cldata.open(...)

Then ``python -m pytest`` runs every inherited test on the backend. A test can be
overridden (to skip it, or to mark it ``xfail``), and more can be added, using the
helpers :meth:`BackendTests.open_store`, :meth:`BackendTests.make_recording`,
:meth:`BackendTests.example_results` and :meth:`BackendTests.assert_same`::

    class TestMyBackend(BackendTests):
        backend_name = "mybackend"

        def test_my_extra_guarantee(self, store_path, source_dir):
            rec = self.make_recording(source_dir, "a", seed=1)
            with self.open_store(store_path, "a") as store:
                rid = store.add_recording(rec["path"])
            with self.open_store(store_path) as store:
                assert store.recording_ids == [rid]

``BackendTests`` itself is never collected (its ``__test__`` is false); every subclass is
(unless it sets ``__test__ = False`` itself, e.g. for an intermediate base class).
"""

from __future__ import annotations

from typing import Any, ClassVar

try:
    import pytest  # noqa: F401 - the suite is pytest tests: say so before anything else fails
except ImportError as exc:  # pragma: no cover - pytest is a test dependency only
    raise ImportError("cldata.testing is a pytest suite: install pytest to use it (pip install pytest)") from exc

from cldata.testing.backend_commits import CommitTests
from cldata.testing.backend_round_trips import RoundTripTests
from cldata.testing.backend_strangers import StrangerTests
from cldata.testing.engine_suite import CatalogEngineTests

__all__ = ["BackendTests", "CatalogEngineTests"]


class BackendTests(RoundTripTests, CommitTests, StrangerTests):
    """Conformance tests for a cldata storage backend: subclass, set ``backend_name``, run pytest.

    Attributes
    ----------
    backend_name : str
        The name the backend is registered under (``cldata.open(root, backend=...)``).
    backend_options : dict
        Backend options, passed to every :func:`cldata.open` call.
    """

    __test__ = False
    backend_name: ClassVar[str] = ""
    backend_options: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True  # subclasses are collected; the base class is not
