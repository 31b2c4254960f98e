"""The core layer: what every other layer of cldata stands on, and that knows no CL file or store.

Canonical parameter values (:mod:`~cldata.core.canonical`), time in frames
(:mod:`~cldata.core.timebase`), file-system helpers and locks (:mod:`~cldata.core.fsutil`,
:mod:`~cldata.core.locking`), closing at exit (:mod:`~cldata.core.shutdown`), the pickle
allow-list (:mod:`~cldata.core.safe_pickle`) and how objects show themselves
(:mod:`~cldata.core.display`). See ``docs/ARCHITECTURE.md`` for the layers.
"""
