"""Storage backends of the datastore: the base classes, the built-ins and the plugin registry."""

from cldata.backends.base import Backend
from cldata.backends.registry import (
    BACKENDS,
    ENTRY_POINT_GROUP,
    BackendWarning,
    get_backend,
    list_backends,
    register_backend,
)
from cldata.backends.segmented import SegmentedBackend

__all__ = [
    "Backend",
    "SegmentedBackend",
    "BACKENDS",
    "ENTRY_POINT_GROUP",
    "BackendWarning",
    "get_backend",
    "list_backends",
    "register_backend",
]
