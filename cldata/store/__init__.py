"""The store layer: ``DataStore`` and its views (see ``docs/ARCHITECTURE.md``).

:mod:`~cldata.store.datastore` holds the store, :mod:`~cldata.store.view` its immutable views and
recording handles, :mod:`~cldata.store.export` the self-contained export.
"""

from cldata.store.datastore import DataStore, open_store, upgrade_store
from cldata.store.view import DataStoreView, RecordingHandle

__all__ = ["DataStore", "open_store", "upgrade_store", "DataStoreView", "RecordingHandle"]
