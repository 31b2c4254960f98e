"""The store layer: ``DataStore`` and its views, by composition (see ``docs/ARCHITECTURE.md``).

A store (:mod:`~cldata.store.datastore`) is a directory of recordings and analysis results
with a catalog; it *has* a view of everything. A view (:mod:`~cldata.store.view`) is an
immutable value, a store plus a :class:`~cldata.query.selection.Selection`, whose chain
methods apply the pure query functions of :mod:`cldata.query`. Opening is
:mod:`~cldata.store.opening`; the directory's layout, marker and locks are
:mod:`~cldata.store.layout` (the old layout's catalog: :mod:`~cldata.store.migration`);
what enters a store is :mod:`~cldata.store.ingest` (CL files) and
:mod:`~cldata.store.neo_ingest` (neo segments, blocks and neo-readable files, kept in the
neo layout); neo recordings' overviews are :mod:`~cldata.store.neo_overview`; garbage collection is
:mod:`~cldata.store.garbage`; one recording of a view is :mod:`~cldata.store.recording`; how
views show themselves is :mod:`~cldata.store.display` and :mod:`~cldata.store.frames`; the
self-contained export is :mod:`~cldata.store.export`.
"""

from cldata.store.datastore import DataStore
from cldata.store.opening import open_store, upgrade_store
from cldata.store.recording import RecordingHandle
from cldata.store.view import DataStoreView

__all__ = ["DataStore", "open_store", "upgrade_store", "DataStoreView", "RecordingHandle"]
