"""Result records of the CL analysis toolkit and their JSON file (spec §3).

The model: every result is a dataclass deriving from :class:`ToolkitResult` whose fields are
the official ones in the official order, the first being ``metadata``
(:class:`AnalysisMetadata`, the whole recording, not the window). ``save(fpath)`` writes one
JSON object (indent 4) keyed by the field names in declaration order: numpy arrays as nested
lists, tuples as lists, dict keys as strings, :class:`Bursts` as a list of
``{"start_frame", "end_frame"}`` objects. The fields a result class lists in
``special_floats`` (the spec's ✱ fields) write NaN as ``"nan"`` and ±inf as ``"inf"``
(official quirk: −inf is also written ``"inf"``); other floats holding NaN/inf are written as
the bare ``NaN``/``Infinity`` tokens of Python's ``json``. ``from_file(fpath)`` reads such a
file back: object keys made of digits (optionally with a leading ``-``) become ints, lists
become arrays or tuples as the field's type says, and unknown or missing keys are rejected
with :class:`ValueError`.

Field types drive the conversion back: annotate arrays with :data:`IntArray` /
:data:`FloatArray` (or a bare ``numpy.ndarray``), and use ``float``, ``int``, ``list[...]``,
``tuple[...]``, ``dict[...]``, :class:`Bursts` and ``X | None`` as usual.

Examples
--------
>>> @dataclass(eq=False)
... class Tiny(ToolkitResult):
...     bin_size_sec: float
...     counts: IntArray
>>> meta = AnalysisMetadata("rec.h5", 64, 25000, 250000, 10.0)
>>> Tiny(meta, 0.5, np.arange(3)).save("tiny.json")   # doctest: +SKIP
>>> Tiny.from_file("tiny.json").counts                # doctest: +SKIP
array([0, 1, 2])
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np

from cldata.toolkit.preprocess import SpikeData

#: An int64 numpy array field (``from_file`` reads it back as int64, also when empty).
IntArray = Annotated[np.ndarray, np.int64]
#: A float64 numpy array field.
FloatArray = Annotated[np.ndarray, np.float64]


@dataclass(eq=False)
class AnalysisMetadata:
    """The recording a result was computed on (root attributes, the whole recording).

    Examples
    --------
    >>> AnalysisMetadata("rec.h5", 64, 25000, 250000, 10.0).duration_seconds
    10.0
    """

    file_path: str
    channel_count: int
    sampling_frequency: int | float
    duration_frames: int
    duration_seconds: float

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnalysisMetadata) and dataclasses.astuple(self) == dataclasses.astuple(other)


def metadata_of(data: SpikeData) -> AnalysisMetadata:
    """The metadata of the recording a snapshot was read from (``fs`` an int when whole).

    Examples
    --------
    >>> metadata_of(data).sampling_frequency   # doctest: +SKIP
    25000
    """
    fs = int(data.fs) if float(data.fs).is_integer() else float(data.fs)
    return AnalysisMetadata(file_path=data.file_path, channel_count=int(data.channel_count),
                            sampling_frequency=fs, duration_frames=int(data.duration_frames),
                            duration_seconds=float(data.duration_seconds))


@dataclass(eq=False)
class Burst:
    """One burst, ``[start_frame, end_frame)``.

    Examples
    --------
    >>> Burst(2500, 7500).get_duration(25000)
    0.2
    """

    start_frame: int
    end_frame: int

    def get_duration(self, sampling_frequency: float) -> float:
        """The burst's length in seconds."""
        return (self.end_frame - self.start_frame) / sampling_frequency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Burst) and (self.start_frame, self.end_frame) == (other.start_frame, other.end_frame)


@dataclass(eq=False)
class Bursts:
    """A list of bursts with the small state machine that builds it.

    ``step(frame, is_bursting)`` opens a burst at ``frame`` when the state turns true and
    closes the open one at ``frame`` when it turns false; ``finalise(end_frame)`` closes a
    burst still open.

    Examples
    --------
    >>> b = Bursts()
    >>> for frame, on in [(0, False), (10, True), (20, True), (30, False), (40, True)]:
    ...     b.step(frame, on)
    >>> b.finalise(50)
    >>> [(x.start_frame, x.end_frame) for x in b]
    [(10, 30), (40, 50)]
    """

    data: list[Burst] = field(default_factory=list)
    is_bursting: bool = False
    _start: int = field(default=0, repr=False)

    def step(self, frame: int, is_bursting: bool) -> None:
        """Advance to ``frame`` in state ``is_bursting``."""
        if is_bursting and not self.is_bursting:
            self._start = int(frame)
        elif self.is_bursting and not is_bursting:
            self.data.append(Burst(self._start, int(frame)))
        self.is_bursting = bool(is_bursting)

    def finalise(self, end_frame: int) -> None:
        """Close a burst still open at ``end_frame``."""
        if self.is_bursting:
            self.data.append(Burst(self._start, int(end_frame)))
            self.is_bursting = False

    def __iter__(self) -> Iterator[Burst]:
        return iter(self.data)

    def __getitem__(self, i: int) -> Burst:
        return self.data[i]

    def __len__(self) -> int:
        return len(self.data)


def _special(value: Any) -> Any:
    """A special-float field's value as saved: ``"nan"``/``"inf"`` for NaN/±inf."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf"
    return plain_data(value)


def plain_data(value: Any, *, for_json: bool = True) -> Any:
    """A field value as plain data: for ``json`` (arrays as lists, dict keys as strings), or, with
    ``for_json=False``, for a store's payload (arrays kept as copies, keys kept; tuple keys as
    tuples of plain values). Metadata becomes a dict and bursts ``{"start_frame", "end_frame"}``
    objects either way.

    Examples
    --------
    >>> plain_data({1: np.arange(2)})
    {'1': [0, 1]}
    >>> plain_data({(1, 2): np.float64(0.5)}, for_json=False)
    {(1, 2): 0.5}
    """
    if isinstance(value, AnalysisMetadata):
        return {f.name: plain_data(getattr(value, f.name), for_json=for_json) for f in dataclasses.fields(value)}
    if isinstance(value, Bursts):
        return [{"start_frame": int(b.start_frame), "end_frame": int(b.end_frame)} for b in value]
    if isinstance(value, Burst):
        return {"start_frame": int(value.start_frame), "end_frame": int(value.end_frame)}
    if isinstance(value, np.ndarray):
        # a copy for a payload: what is stored does not change with the object
        return value.tolist() if for_json else np.array(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain_data(v, for_json=for_json) for v in value]
    if isinstance(value, dict):
        if for_json:
            return {str(plain_data(k)): plain_data(v) for k, v in value.items()}
        return {(tuple(plain_data(x, for_json=False) for x in k) if isinstance(k, tuple)
                 else plain_data(k, for_json=False)): plain_data(v, for_json=False) for k, v in value.items()}
    return value


def _int_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object with its digit keys (optionally negative) back as ints."""
    return {(int(k) if re.fullmatch(r"-?[0-9]+", k) else k): v for k, v in pairs}


def _float(value: Any) -> float:
    if isinstance(value, str):
        if value in ("nan", "inf", "-inf"):
            return float(value)
        raise ValueError(f"{value!r} is not a float")
    return float(value)


def _convert(hint: Any, value: Any) -> Any:  # noqa: C901 (one branch per kind of field type)
    """``value`` read from JSON, converted to what the type hint ``hint`` says."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        return np.asarray(value, dtype=args[1]) if args[0] is np.ndarray else _convert(args[0], value)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) > 1 and all(a in (int, float) for a in options):
            return value if isinstance(value, int) else _float(value)
        return _convert(options[0], value)
    if hint is np.ndarray:
        return np.asarray(value)
    if hint is float:
        return _float(value)
    if hint in (int, bool, str):
        return hint(value)
    if hint is AnalysisMetadata:
        return _record(AnalysisMetadata, value)
    if hint is Bursts:
        return Bursts([Burst(int(b["start_frame"]), int(b["end_frame"])) for b in value])
    if origin is list:
        return [_convert(args[0], v) for v in value] if args else list(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"expected an object, got {type(value).__name__}")
        return {_convert(args[0], k) if args else k: _convert(args[1], v) if args else v for k, v in value.items()}
    return value


def _record(cls: type, obj: Any) -> Any:
    """An instance of the dataclass ``cls`` from a JSON object with exactly its field names."""
    if not isinstance(obj, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(obj).__name__}")
    names = [f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]
    unknown = [k for k in obj if k not in names]
    missing = [n for n in names if n not in obj]
    if unknown or missing:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}, missing keys {missing}")
    hints = typing.get_type_hints(cls, include_extras=True)
    try:
        return cls(**{n: _convert(hints[n], obj[n]) for n in names})
    except (TypeError, KeyError) as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


@dataclass(eq=False)
class ToolkitResult:
    """Base of every toolkit result: ``metadata`` first, then the method's fields in order.

    Subclasses are ``@dataclass(eq=False)`` classes adding their fields, and list their
    special-float fields (spec ✱) in ``special_floats``.

    Examples
    --------
    >>> result.save("result.json")                           # doctest: +SKIP
    >>> type(result).from_file("result.json").metadata       # doctest: +SKIP
    AnalysisMetadata(file_path='rec.h5', channel_count=64, ...)
    """

    metadata: AnalysisMetadata
    special_floats: ClassVar[frozenset[str]] = frozenset()

    def to_json_dict(self) -> dict[str, Any]:
        """The object ``save()`` writes: field name -> JSON value, in declaration order."""
        return {f.name: (_special if f.name in self.special_floats else plain_data)(getattr(self, f.name))
                for f in dataclasses.fields(self)}

    def save(self, fpath: str | os.PathLike[str]) -> None:
        """Write the result as the official JSON file (indent 4, fields in order)."""
        with open(fpath, "w", encoding="utf-8") as f:
            json.dump(self.to_json_dict(), f, indent=4)

    @classmethod
    def from_file(cls, fpath: str | os.PathLike[str]) -> typing.Self:
        """Read a file written by ``save()`` (or the official toolkit).

        Raises
        ------
        ValueError
            If the file is not a JSON object with exactly this class's fields.
        """
        with open(fpath, encoding="utf-8") as f:
            obj = json.load(f, object_pairs_hook=_int_keys)
        return cls.from_json_dict(obj)

    @classmethod
    def from_json_dict(cls, obj: dict[str, Any]) -> typing.Self:
        """A result from a dict keyed by exactly this class's field names (``to_json_dict()``'s shape).

        Each value is converted to what its field's type says, as ``from_file`` does: lists to
        arrays of the annotated dtype, tuples, dicts (keys converted too), :class:`Bursts`,
        ``"nan"``/``"inf"`` strings of special floats to floats. Values that are already of the
        field's type (numpy arrays, tuple keys) pass through, so a store can rebuild a result
        from plain data that kept its arrays.

        Raises
        ------
        ValueError
            If ``obj`` is not a dict with exactly this class's fields, or a value does not fit.

        Examples
        --------
        >>> same = type(result).from_json_dict(result.to_json_dict())   # doctest: +SKIP
        """
        return _record(cls, obj)
