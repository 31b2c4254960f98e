"""Analysis results: typed objects with an identifier, parameters, sources, tags and a payload.

A result is identified by its ``identifier`` (what was computed, e.g. ``"firing_rate"``),
its ``parameters`` (how: window, bin size, ...) and its ``sources`` (the recording ids it
was computed from). Adding a second result with the same identity to a store raises
:class:`~cldata.errors.DuplicateResultError` unless the store was opened with
``replace=True``. ``tags`` are free labels (``"final"``, ``"reviewed"``) to query by.

This module holds the base class every kind derives from (the shipped kinds are in
:mod:`cldata.model.results.kinds`; a kind is made known to stores through
:mod:`cldata.model.results.registry`). A kind declares its data fields in ``fields``; each
becomes a real attribute (a property: ``dir()`` and tab completion list ``value``,
``values``, ...). In a store, results are loaded lazily: the catalog holds identity and
metadata, and the payload is read the first time a data attribute is used
(:meth:`AnalysisResult.from_store`). A result's repr shows what it holds, from the catalog's
summary (:attr:`AnalysisResult.summary_hint`) without reading the payload; a notebook shows
a table.

Examples
--------
>>> class Pair(AnalysisResult):
...     '''Two numbers.'''
...     fields = ("first", "second")
>>> p = Pair("pair", first=1, second=2, sources=["rec-1"])
>>> p.second, p.key[0]
(2, 'pair')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from cldata.core.canonical import canonical, digest_canonical, plain
from cldata.core.display import flatten, html_fields, plural, short
from cldata.errors import DecodeError, StoreFormatError, UnsupportedValueError

__all__ = ["AnalysisResult", "result_id_for", "RESERVED_FIELDS"]


def result_id_for(key: tuple) -> str:
    """The store id of a result with identity ``key`` (see :attr:`AnalysisResult.key`)."""
    return "res_" + digest_canonical(key)


class AnalysisResult:
    """Base class of analysis results.

    Subclasses declare their data fields in ``fields`` and may check them in
    :meth:`_validate`. The payload stored is the dict of those fields.

    Parameters
    ----------
    identifier
        What was computed (``"firing_rate"``); non-empty string.
    parameters
        How it was computed: a nested dict of plain values and quantities.
    sources
        The recording ids it was computed from.
    tags
        Labels to query by.
    """

    fields: ClassVar[tuple[str, ...]] = ()
    #: what the store's catalog knows of the payload (value and units of a SingleValue, sizes),
    #: set by the views that hand out stored results: shown by repr without reading the payload
    summary_hint: dict[str, Any] | None = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        # each data field is a real attribute (a property reading the possibly lazy payload),
        # so that dir() and tab completion find ``value``/``values``; a name the base class
        # uses for itself (identifier, parameters, ...) stays the base class's
        for name in cls.__dict__.get("fields", ()):
            if name.isidentifier() and name not in RESERVED_FIELDS and not hasattr(cls, name):
                setattr(cls, name, _field_property(name))

    def __init__(
        self,
        identifier: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        sources: Sequence[str] | str = (),
        tags: Iterable[str] = (),
        **data: Any,
    ):
        if not isinstance(identifier, str) or not identifier:
            raise UnsupportedValueError(f"a result identifier is a non-empty str, not {identifier!r}")
        self.identifier = identifier
        self.parameters = plain(dict(parameters or {}))
        # computed once (refusing unusable values now, not at commit): parameters are fixed
        # when a result is made
        self._canonical_parameters = canonical(self.parameters)
        if isinstance(sources, str):
            sources = (sources,)
        self.sources: tuple[str, ...] = tuple(str(s) for s in sources)
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        if not all(isinstance(t, str) and t for t in tag_list):
            raise UnsupportedValueError(f"tags are non-empty strings, not {tag_list!r}")
        self.tags: tuple[str, ...] = tuple(sorted(set(tag_list)))
        unknown = set(data) - set(self.fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}; its fields are {list(self.fields)}")
        self._data: dict[str, Any] | None = None
        self._loader: Callable[[], dict[str, Any]] | None = None
        self.id: str | None = None  # set by the store
        if data or not self.fields:
            self._data = self._validate(dict(data))

    # -- identity ----------------------------------------------------------------------------

    @property
    def key(self) -> tuple:
        """The identity of the result: identifier, canonical parameters and sources."""
        if self._canonical_parameters is None:  # (a result read from a store computes it when asked)
            self._canonical_parameters = canonical(self.parameters)
        return (self.identifier, self._canonical_parameters, tuple(sorted(self.sources)))

    @property
    def result_id(self) -> str:
        """A stable id derived from the identity (the id it gets in a store)."""
        return result_id_for(self.key)

    # -- payload -------------------------------------------------------------------------------

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        missing = [f for f in self.fields if f not in data]
        if missing:
            raise TypeError(f"{type(self).__name__} needs the field(s) {missing}")
        return data

    def payload(self) -> dict[str, Any]:
        """The data fields as a dict (loading them from the store if needed)."""
        if self._data is None:
            if self._loader is None:
                raise DecodeError(f"result {self.identifier!r} has no data")
            loaded = self._loader()
            try:
                self._data = self._validate(dict(loaded))
            except (TypeError, ValueError, UnsupportedValueError) as exc:
                raise StoreFormatError(
                    f"the stored payload of {type(self).__name__} {self.identifier!r} ({self.id}) is not one: {exc}"
                ) from None
            self._loader = None
        return self._data

    @property
    def loaded(self) -> bool:
        """Whether the payload is in memory."""
        return self._data is not None

    def __getattr__(self, name: str) -> Any:
        # data fields are properties (see __init_subclass__); a field named like an attribute
        # of the base class, or a property that failed, ends here
        if name in type(self).fields and name not in ("_data", "_loader"):
            return self.payload()[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    @classmethod
    def from_store(
        cls,
        result_id: str,
        identifier: str,
        parameters: dict[str, Any],
        sources: Sequence[str],
        tags: Sequence[str],
        loader: Callable[[], dict[str, Any]],
    ) -> AnalysisResult:
        # the store checked all of this when the result was added: a result read back is made
        # without checking it again (a query may make thousands)
        obj = cls.__new__(cls)
        obj.identifier = identifier
        obj.parameters = parameters
        obj._canonical_parameters = None
        obj.sources = tuple(sources)
        obj.tags = tuple(tags)
        obj._data = None
        obj._loader = loader
        obj.id = result_id
        return obj

    def summary(self) -> dict[str, Any]:
        """Small metadata kept in the catalog (shown without loading the payload)."""
        return {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AnalysisResult):
            return NotImplemented
        return type(self) is type(other) and self.key == other.key and set(self.tags) == set(other.tags)

    __hash__ = None  # type: ignore[assignment]

    # -- presentation ----------------------------------------------------------------------

    def _known_summary(self) -> dict[str, Any]:
        """The summary, from the payload when it is in memory, else from the store's catalog."""
        if self._data is not None:
            try:
                return self.summary()
            except Exception:  # a summary is for show: never let it break a repr
                return {}
        return dict(self.summary_hint or {})

    def _value_text(self) -> str:
        """What the result holds, briefly (`` = 5.07 Hz``, ``: 64 channels``); '' if unknown."""
        n = self._known_summary().get("n")
        return f": {plural(n, 'item')}" if n is not None else ""

    def __repr__(self) -> str:
        src = ", ".join(self.sources[:3]) + ("..." if len(self.sources) > 3 else "")
        params = "".join(f", {k}={short(v, 40)}" for k, v in flatten(self.parameters).items())
        tags = f", tags {list(self.tags)}" if self.tags else ""
        where = f", from {src}" if src else ""
        return f"<{type(self).__name__} {self.identifier}{self._value_text()}{params}{where}{tags}>"

    def _repr_html_(self) -> str:
        fields: dict[str, Any] = {"kind": type(self).__name__, "identifier": self.identifier}
        try:
            fields.update({name: short(value, 200) for name, value in self.payload().items()})
        except Exception as exc:  # a payload that cannot be read: the table says so
            fields["payload"] = f"cannot be read: {exc}"
        fields.update({f"parameter {k}": short(v) for k, v in flatten(self.parameters).items()})
        fields["sources"] = ", ".join(self.sources)
        if self.tags:
            fields["tags"] = ", ".join(self.tags)
        if self.id:
            fields["id"] = self.id
        return html_fields(f"{type(self).__name__} {self.identifier}", fields)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the result with matplotlib on ``ax`` (default: the current Axes); return the Axes.

        Each shipped kind draws itself (see its own ``plot``), axes labelled with units.
        Needs matplotlib (``pip install 'cldata[plot]'``).
        """
        raise UnsupportedValueError(
            f"{type(self).__name__} results have no plot of their own: draw {self.identifier!r} from its fields "
            f"({', '.join(self.fields)}) with matplotlib"
        )


RESERVED_FIELDS = frozenset({"identifier", "parameters", "sources", "tags", "id", "key", "result_id", "payload", "loaded",
                       "summary", "fields", "plot"})


def _field_property(name: str) -> property:
    def get(self: AnalysisResult) -> Any:
        return self.payload()[name]

    get.__name__ = name
    return property(get, doc=f"The ``{name}`` of the result (read from the store on first use).")
