"""Writing one neo segment as an HDF5 file of the neo-segment layout (docs/NEO-LAYOUT.md).

The model: each list of the segment (``analogsignals``, ``irregularlysampledsignals``,
``spiketrains``, ``events``, ``epochs``) is a group under the root; its ``i``-th object is the
group ``o{i:06d}`` holding the object's numeric arrays as HDF5 datasets in their own dtype
(chunked, so that a window reads only its chunks, and checksummed) and a ``meta`` dataset of
msgpack bytes with everything else (name, description, file_origin, units, rates, t_start,
t_stop, annotations, array annotations). Event and epoch labels are msgpack bytes too
(``labels``: a numpy string array keeps its dtype). The segment's own attributes and the
block's (when ``segment.block`` is set) are the root's ``segment`` dataset; the root
attributes ``cldata_layout = "neo-segment"`` and ``cldata_layout_version = 1`` mark the file.
No HDF5 attribute holds anything but those two plain values, so nothing is pickled.

The file is written under a temporary name beside ``path`` and renamed into place when
complete, so ``path`` never holds a half-written file.

Examples
--------
>>> write_neo_recording(segment, tmp / "seg.h5")                  # doctest: +SKIP
PosixPath('.../seg.h5')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
import tables

from cldata.core.fsutil import replaced_on_success
from cldata.errors import OutputExistsError, UnsupportedValueError
from cldata.format.neo_file.layout import (
    KINDS,
    LAYOUT,
    LAYOUT_ATTR,
    LAYOUT_VERSION,
    META,
    SEGMENT_NODE,
    VERSION_ATTR,
    member_name,
)
from cldata.format.neo_file.values import as_bytes_array, pack

__all__ = ["write_neo_recording"]

# checksummed, not compressed: as the samples of CL files and overviews, writing and reading run at
# disk speed (zlib, even at level 1, wrote int16 samples at ~20 MB/s), and a damaged chunk is
# detected when read instead of coming back as other numbers
_FILTERS = tables.Filters(fletcher32=True)
_CHUNK_BYTES = 1 << 20


def _units(q: Any) -> pq.Quantity:
    return pq.Quantity(1.0, q.dimensionality if hasattr(q, "dimensionality") else q)


def _when(value: Any, what: str) -> Any:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return [type(value).__name__, value.isoformat()]
    raise UnsupportedValueError(f"{what} must be a datetime.datetime or date, not {type(value).__name__}")


def _common(obj: Any, what: str) -> dict[str, Any]:
    """The attributes every neo object has, annotations checked one by one."""
    annotations = {}
    for key, value in (obj.annotations or {}).items():
        pack(value, f"{what} annotation {key!r}")  # name the offending annotation, not the whole dict
        annotations[key] = value
    arrays = {}
    for key, value in dict(getattr(obj, "array_annotations", {}) or {}).items():
        pack(value, f"{what} array annotation {key!r}")
        arrays[key] = value
    return {"name": obj.name, "description": obj.description, "file_origin": obj.file_origin,
            "annotations": annotations, "array_annotations": arrays}


def _array(h5: tables.File, group: tables.Group, name: str, values: np.ndarray) -> None:
    values = np.ascontiguousarray(values)
    if values.dtype.kind not in "biufc":
        raise UnsupportedValueError(f"{group._v_pathname}/{name}: a {values.dtype} array cannot be stored "
                                    "(numeric dtypes only)")
    if values.size == 0:
        h5.create_array(group, name, obj=values)
        return
    # chunks of at most ~1 MB of whole rows, as equal as possible: the last one is not mostly padding
    chunks = -(-values.nbytes // _CHUNK_BYTES)
    rows = max(1, -(-values.shape[0] // chunks))
    h5.create_carray(group, name, obj=values, filters=_FILTERS, chunkshape=(rows, *values.shape[1:]))


def _bytes(h5: tables.File, group: tables.Group, name: str, data: bytes) -> None:
    h5.create_array(group, name, obj=as_bytes_array(data))


def _analog(sig: neo.AnalogSignal, what: str) -> tuple[dict, dict]:
    meta = _common(sig, what)
    meta.update(units=_units(sig.units), sampling_rate=sig.sampling_rate, t_start=sig.t_start)
    return meta, {"values": sig.magnitude}


def _irregular(sig: neo.IrregularlySampledSignal, what: str) -> tuple[dict, dict]:
    meta = _common(sig, what)
    meta.update(units=_units(sig.units), time_units=_units(sig.times.units))
    return meta, {"times": sig.times.magnitude, "values": sig.magnitude}


def _spiketrain(st: neo.SpikeTrain, what: str) -> tuple[dict, dict]:
    meta = _common(st, what)
    meta.update(units=_units(st.units), t_start=st.t_start, t_stop=st.t_stop, left_sweep=st.left_sweep,
                sampling_rate=st.sampling_rate, waveform_units=None)
    arrays = {"times": st.magnitude}
    if st.waveforms is not None:
        waveforms = st.waveforms
        meta["waveform_units"] = _units(waveforms.units) if isinstance(waveforms, pq.Quantity) else None
        arrays["waveforms"] = np.asarray(waveforms.magnitude if isinstance(waveforms, pq.Quantity) else waveforms)
    return meta, arrays


def _event(ev: neo.Event, what: str) -> tuple[dict, dict]:
    meta = _common(ev, what)
    meta.update(units=_units(ev.units))
    return meta, {"times": ev.magnitude, "labels": np.asarray(ev.labels)}


def _epoch(ep: neo.Epoch, what: str) -> tuple[dict, dict]:
    meta = _common(ep, what)
    meta.update(units=_units(ep.units), duration_units=_units(ep.durations.units))
    return meta, {"times": ep.magnitude, "durations": ep.durations.magnitude, "labels": np.asarray(ep.labels)}


_DESCRIBE = {"analogsignals": _analog, "irregularlysampledsignals": _irregular, "spiketrains": _spiketrain,
             "events": _event, "epochs": _epoch}


def _segment_meta(segment: neo.Segment) -> bytes:
    meta = {"name": segment.name, "description": segment.description, "file_origin": segment.file_origin,
            "rec_datetime": _when(segment.rec_datetime, "segment rec_datetime"),
            "index": getattr(segment, "index", None), "annotations": {}, "block": None}
    for key, value in (segment.annotations or {}).items():
        pack(value, f"segment annotation {key!r}")
        meta["annotations"][key] = value
    block = getattr(segment, "block", None)
    if block is not None:
        meta["block"] = {"name": block.name, "description": block.description, "file_origin": block.file_origin,
                         "rec_datetime": _when(block.rec_datetime, "block rec_datetime"),
                         "index": getattr(block, "index", None), "annotations": {}}
        for key, value in (block.annotations or {}).items():
            pack(value, f"block annotation {key!r}")
            meta["block"]["annotations"][key] = value
    return pack(meta, "the segment's attributes")


def _loaded(obj: Any, kind: str) -> Any:
    """``obj``, or the object a lazy proxy stands for (loaded now: one object in memory at a time)."""
    if not hasattr(obj, "proxy_for"):
        return obj
    if kind == "spiketrains":
        try:
            return obj.load(load_waveforms=True)
        except ValueError:  # neo's rawio proxies: "There are no waveforms"
            return obj.load(load_waveforms=False)
    return obj.load()


def _fill(h5: tables.File, segment: neo.Segment) -> None:
    h5.root._v_attrs[LAYOUT_ATTR] = LAYOUT
    h5.root._v_attrs[VERSION_ATTR] = LAYOUT_VERSION
    _bytes(h5, h5.root, SEGMENT_NODE, _segment_meta(segment))
    for kind, spec in KINDS.items():
        group = h5.create_group(h5.root, spec.group)
        for i, lazy in enumerate(getattr(segment, kind)):
            obj = _loaded(lazy, kind)
            what = f"{kind}[{i}] ({obj.name!r})" if obj.name else f"{kind}[{i}]"
            meta, arrays = _DESCRIBE[kind](obj, what)
            member = h5.create_group(group, member_name(i))
            _bytes(h5, member, META, pack(meta, f"{what} attributes"))
            for name, values in arrays.items():
                if name == "labels":
                    _bytes(h5, member, name, pack(values, f"{what} labels"))
                else:
                    _array(h5, member, name, values)


def write_neo_recording(segment: neo.Segment, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``segment`` losslessly as one HDF5 file of the neo-segment layout.

    Every analog and irregularly sampled signal, spike train (with waveforms), event and
    epoch is stored with its units, times, names, annotations and array annotations; the
    segment's own attributes and its block's annotations (``segment.block``) too. Read it
    back with :class:`~cldata.format.neo_file.NeoRecordingView`.

    Parameters
    ----------
    segment
        A :class:`neo.Segment`; lazy proxies in it (a ``read_block(lazy=True)``) are loaded
        one at a time while writing, spike trains with their waveforms.
    path
        The file to write.
    overwrite
        Replace an existing file at ``path`` (atomically); without it an existing file is refused.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    cldata.errors.UnsupportedValueError
        If an annotation (or another value) cannot be stored losslessly; the message names it.
        Nothing is written then.
    cldata.errors.OutputExistsError
        If ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> write_neo_recording(seg, "rec.neo.h5")     # doctest: +SKIP
    PosixPath('rec.neo.h5')
    """
    path = Path(path)
    if not isinstance(segment, neo.Segment):
        raise UnsupportedValueError(f"write_neo_recording needs a neo.Segment, not {type(segment).__name__}")
    if getattr(segment, "imagesequences", None):
        raise UnsupportedValueError(f"the segment holds {len(segment.imagesequences)} ImageSequence(s), which the "
                                    "neo-segment layout does not store; remove them (or keep them elsewhere)")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    with replaced_on_success(path) as tmp:
        with tables.open_file(str(tmp), mode="w") as h5:
            _fill(h5, segment)
        if not overwrite and (path.exists() or path.is_symlink()):
            raise OutputExistsError(f"{path} appeared while it was written; pass overwrite=True to replace it")
    return path
