"""The model layer: what a store holds, independent of where it is kept.

The catalog of recording and result entries (:mod:`~cldata.model.catalog`), its on-disk engines
(:mod:`~cldata.model.engines`), analysis results (:mod:`~cldata.model.results`) and their
payloads as plain data (:mod:`~cldata.model.payload`). See ``docs/ARCHITECTURE.md``.
"""
