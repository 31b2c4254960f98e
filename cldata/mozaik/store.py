"""mozaik's ``DataStore`` and ``DataStoreView`` methods over a cldata store.

:class:`MozaikView` is a :class:`cldata.DataStoreView` (an immutable store and selection)
whose methods that mozaik also has take mozaik's signatures and meaning:
``get_segments(null=False, ordered=False)``, ``get_stimuli``, ``print_content(full_recordings=,
full_ADS=)``, ``get_analysis_result(**kwargs)`` (mozaik's keyword names), ``sheets()``,
``get_neuron_positions()``, ``get_neuron_annotations()``. Every cldata method is still there,
and every query of :mod:`cldata.mozaik` returns one. :class:`DataStore`,
:class:`PickledDataStore` and :class:`Hdf5DataStore` are :class:`cldata.DataStore` s made
as mozaik makes them (``PickledDataStore(load=True, parameters=ParameterSet({...}),
replace=True)``), with ``save()``; :func:`load` / :func:`save` are the same as functions.

What differs from mozaik is in ``docs/mozaik.md``: a segment is a whole recording (a CL
recording or a neo segment), not one sheet's response; there are no null segments; the
one "sheet" of a CL recording is ``"MEA"``.

Examples
--------
>>> from cldata.mozaik import PickledDataStore, param_filter_query       # doctest: +SKIP
>>> data_store = PickledDataStore(load=True, parameters=ParameterSet({"root_directory": "lab-store",
...                                                                    "store_stimuli": False}))  # doctest: +SKIP
>>> param_filter_query(data_store, st_name="PulseTrain").print_content(full_recordings=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cldata.core.paramsets import plain_parameters
from cldata.errors import ParameterError, StoreError, StoreFormatError
from cldata.model.results import Data
from cldata.mozaik import stimuli as stimulus_model
from cldata.query.selection import Selection
from cldata.query.stimuli import stimulus_key, unpresented_stimulus_indexes
from cldata.store.datastore import DataStore as _CldataDataStore
from cldata.store.layout import MARKER
from cldata.store.view import DataStoreView

__all__ = ["result_sheet", "MozaikView", "DataStore", "PickledDataStore", "Hdf5DataStore", "load", "save", "as_view", "SHEET",
           "SENSORY_STIMULUS"]

#: The one sheet of a CL recording (an MEA): what ``sheets()`` names and ``sheet_name`` matches
SHEET = "MEA"
#: The identifier of the results :meth:`DataStore.add_stimulus` stores
SENSORY_STIMULUS = "sensory_stimulus"


def as_view(dsv: Any) -> MozaikView:
    """``dsv`` (a cldata store or view) as a :class:`MozaikView` of the same entries."""
    if isinstance(dsv, MozaikView):
        return dsv
    store = getattr(dsv, "full_datastore", None)
    if not isinstance(store, _CldataDataStore):
        raise ParameterError(f"a mozaik query takes a cldata DataStore or DataStoreView, not {type(dsv).__name__}")
    return MozaikView.of(store, dsv.selection)


def _sheet_of(parameters: Mapping[str, Any]) -> Any:
    return parameters.get("sheet_name", SHEET)


def result_sheet(catalog: Any, entry: Any) -> Any:
    """A result's sheet: its own ``sheet_name`` parameter, else its first source recording's sheet,
    else ``"MEA"`` (the fall-back of parameter queries)."""
    if "sheet_name" in entry.parameters:
        return entry.parameters["sheet_name"]
    for source in entry.sources:
        row = catalog.recording_rows.get(source)
        rec = catalog.recordings[row] if row is not None else None
        if rec is not None:
            return _sheet_of(rec.parameters)
    return SHEET


class MozaikView(DataStoreView):
    """A :class:`cldata.DataStoreView` with mozaik's method signatures (see module doc)."""

    __slots__ = ()

    @classmethod
    def of(cls, store: Any, selection: Selection) -> MozaikView:
        """The mozaik view of ``store`` through ``selection``."""
        return cls(store, selection=selection)

    def with_selection(self, selection: Selection) -> MozaikView:
        """A mozaik view of the same store through another selection (queries keep the kind)."""
        return MozaikView.of(self.full_datastore, selection)

    # -- recordings -------------------------------------------------------------------------------

    def get_segments(self, null: bool = False, ordered: bool = False, lazy: bool = False,  # type: ignore[override]
                     **kwargs: Any) -> list[Any]:
        """Every recording of the view as a neo Segment, its data loaded as mozaik's segments give
        it (``lazy=True``: cldata's lazy segments, whose proxies load on ``.load()``).

        ``null=True``: the null (blank) segments, which a cldata store does not have: ``[]``.
        ``ordered=True``: by the time recordings started (``created_utc``, or a neo segment's
        ``rec_datetime`` parameter), not in the order they were added.
        """
        if null:
            return []
        recs = self._ordered_recordings() if ordered else self.recordings
        return [rec.segment(lazy=lazy, **kwargs) for rec in recs]

    def _ordered_recordings(self) -> list[Any]:
        recs = self.recordings
        keys = [str(rec.parameters.get("created_utc", rec.parameters.get("rec_datetime", ""))) for rec in recs]
        return [rec for _, _, rec in sorted(zip(keys, range(len(recs)), recs), key=lambda t: t[:2])]

    def get_stimuli(self, null: bool = False, ordered: bool = False) -> list[dict[str, Any]]:
        """The stimulus of each recording (a dict of its ``stimulation`` parameters), in
        the order of :meth:`get_segments` with the same arguments."""
        if null:
            return []
        recs = self._ordered_recordings() if ordered else self.recordings
        return [stimulus_model.flat_stimulus(rec.parameters) for rec in recs]

    def sheets(self) -> list[str]:
        """The sheets the view's recordings and results belong to: ``["MEA"]`` for CL data
        (an entry's ``sheet_name`` parameter, when it has one, names its sheet)."""
        cat, sel = self.catalog, self.selection
        found: dict[Any, None] = {}
        for _, entry in sel.recording_entries(cat):
            found[_sheet_of(entry.parameters)] = None
        for entry in sel.result_entries(cat).values():
            found[result_sheet(cat, entry)] = None
        found.pop(None, None)
        return list(found)

    def get_neuron_positions(self) -> dict[str, Any]:
        """``{sheet: positions}``: each recording's channel (electrode) positions, by sheet.

        For CL data the MEA layout, the same for every recording (the first one's is given).
        """
        out: dict[str, Any] = {}
        for rec in self.recordings:
            out.setdefault(_sheet_of(rec.parameters), rec.get_neuron_positions())
        return out

    #: mozaik's older spelling
    get_neuron_postions = get_neuron_positions

    def get_neuron_annotations(self) -> dict[str, Any]:
        """``{sheet: annotations}``: each recording's per-channel (neuron) annotations, by sheet."""
        out: dict[str, Any] = {}
        for rec in self.recordings:
            out.setdefault(_sheet_of(rec.parameters), rec.get_neuron_annotations())
        return out

    def identify_unpresented_stimuli(self, stimuli: list[Any]) -> list[int]:  # type: ignore[override]
        """The indexes of the ``stimuli`` (dicts of stimulation parameters) no recording of the view was a
        response to (mozaik's current meaning: indexes; cldata's view method gives the stimuli)."""
        return unpresented_stimulus_indexes(self, stimuli)

    # -- analysis results ------------------------------------------------------------------------------

    def get_analysis_result(self, **kwargs: Any) -> list[Any]:
        """The results of the view matching ``kwargs`` in mozaik's names (``identifier`` a kind
        such as ``"SingleValue"``, ``value_name`` what cldata calls the identifier, ``st_<name>``).

        Examples
        --------
        >>> dsv.get_analysis_result(identifier="SingleValue", value_name="mean_rate")  # doctest: +SKIP
        """
        # why: queries builds on this module's views; the import would be circular at the top
        from cldata.mozaik.queries import param_filter_query

        return param_filter_query(self, **kwargs).analysis_results

    def get_sensory_stimulus(self, stimuli: list[Any] | None = None) -> list[Any]:
        """The data stored by :meth:`DataStore.add_stimulus` for ``stimuli`` (``None``: all)."""
        found = [(stimulus_key(r.parameters.get("stimulation")), r)
                 for r in self.filter_results(identifier=SENSORY_STIMULUS).analysis_results]
        if stimuli is None:
            return [r.value for _, r in found]
        by_key = {k: r for k, r in found}
        wanted = [stimulus_key(_stimulus_dict(s)) for s in stimuli]
        return [by_key[k].value for k in wanted if k in by_key]

    # -- copies, unions and removal ---------------------------------------------------------------

    def analysis_result_copy(self) -> list[Any]:
        """The view's results as a new list (mozaik's shallow copy)."""
        return list(self.analysis_results)

    def recordings_copy(self) -> list[Any]:
        """The view's recordings as a new list of lazy neo segments (mozaik's shallow copy)."""
        return self.get_segments(lazy=True)

    def fromDataStoreView(self) -> MozaikView:  # noqa: N802 - mozaik's name
        """An empty view of the same store (mozaik's ``fromDataStoreView``)."""
        return self.with_selection(self.selection.derive(self.catalog, recordings=(), results=()))

    def __add__(self, other: Any) -> MozaikView:
        """Entries in either view (mozaik's ``+``; cldata's ``|``)."""
        return self | other

    def remove_ads_from_datastore(self) -> None:
        """Remove the view's results from the store (committed at the store's next ``save()``)."""
        store = self.full_datastore
        for entry in self.selection.result_entries(self.catalog).values():
            store.remove_analysis_result(entry.id)

    def remove_ads_outside_of_dsv(self) -> None:
        """Remove from the store every result that is not in this view."""
        (as_view(self.full_datastore) - self).remove_ads_from_datastore()

    # -- presentation -----------------------------------------------------------------------------------

    def content(self, full_recordings: bool = False, full_ADS: bool = False) -> str:  # noqa: N803 - mozaik's name
        """What :meth:`print_content` prints."""
        recs = self.get_stimuli()
        results = self.analysis_results
        lines = ["DSV info:", f"   Number of recordings: {len(recs)}"]
        lines += [f"     {k} : {n}" for k, n in Counter(stimulus_model.stimulus_type(s) for s in recs).items()]
        lines.append(f"   Number of ADS: {len(results)}")
        lines += [f"     {k} : {n}" for k, n in Counter(r.identifier for r in results).items()]
        if full_recordings:
            lines.append("RECORDING RESULTS")
            lines += [f"{rid}: {stim}" for rid, stim in zip(self.recording_ids, recs)]
        if full_ADS:
            lines.append("ANALYSIS RESULTS")
            lines += [repr(r) for r in results]
        return "\n".join(lines)

    def print_content(self, full_recordings: bool = False, full_ADS: bool = False) -> None:  # type: ignore[override]  # noqa: N803
        """Print the number of recordings by stimulus type and of results by identifier;
        ``full_recordings`` / ``full_ADS`` also print each recording's stimulus / each result.

        mozaik logs this at INFO level; here it is printed (:meth:`content` returns it).
        """
        print(self.content(full_recordings=full_recordings, full_ADS=full_ADS))


def _stimulus_dict(stimulus: Any) -> dict[str, Any]:
    if isinstance(stimulus, Mapping):
        return dict(sorted(stimulus.items()))
    raise ParameterError(f"a stimulus is a dict of stimulation parameters, not {type(stimulus).__name__}")


class DataStore(_CldataDataStore):
    """A cldata store opened as mozaik opens its ``DataStore``: ``DataStore(load, parameters, replace=False)``.

    Parameters
    ----------
    load
        ``True``: open the store in ``parameters.root_directory`` (it must exist). ``False``:
        make a new one there (refused if a store with entries is there already: mozaik would
        overwrite it at ``save()``; load it, or remove it first).
    parameters
        A ParameterSet or dict with ``root_directory`` (and mozaik's ``store_stimuli``: whether
        :meth:`add_stimulus` stores anything; default ``False``).
    replace
        Adding a result identical to a stored one replaces it (mozaik's flag), instead of raising
        :class:`~cldata.errors.DuplicateResultError`.

    The store is open for writing (mozaik's analysis scripts add results); :meth:`save`
    commits. Its views and queries are :class:`MozaikView` s.
    """

    backend_name: str | None = None

    def __init__(self, load: bool, parameters: Any, replace: bool = False, **options: Any):
        params = plain_parameters(parameters, "the datastore parameters")
        if "root_directory" not in params:
            raise ParameterError("a mozaik DataStore's parameters need 'root_directory'")
        root = Path(params["root_directory"])
        exists = (root / MARKER).exists()
        if load and not exists:
            raise StoreFormatError(f"no cldata store in {root} to load (no {MARKER}); pass load=False to make one")
        # the class's backend makes a new store; a store that exists keeps its own, whichever class loads it
        super().__init__(root, backend=None if exists else self.backend_name, mode="a", replace=bool(replace),
                         **options)
        if not load and (self.catalog.n_recordings or self.catalog.n_results):
            self.close(commit=False)
            raise StoreError(f"{root} holds a store already; open it with load=True (mozaik would overwrite it)")
        self.parameters = parameters
        self.store_stimuli = bool(params.get("store_stimuli", False))

    @property
    def root_view(self) -> MozaikView:
        """The store's view of everything, as a :class:`MozaikView`."""
        return MozaikView.of(self, Selection.everything())

    def with_selection(self, selection: Selection) -> MozaikView:
        return MozaikView.of(self, selection)

    def sheets(self) -> list[str]:
        """mozaik's ``sheets()`` (:meth:`MozaikView.sheets`)."""
        return self.root_view.sheets()

    def content(self, full_recordings: bool = False, full_ADS: bool = False) -> str:  # noqa: N803 - mozaik's name
        """What :meth:`print_content` prints (:meth:`MozaikView.content`)."""
        return self.root_view.content(full_recordings=full_recordings, full_ADS=full_ADS)

    def get_sensory_stimulus(self, stimuli: list[Any] | None = None) -> list[Any]:
        """mozaik's ``get_sensory_stimulus`` (:meth:`MozaikView.get_sensory_stimulus`)."""
        return self.root_view.get_sensory_stimulus(stimuli)

    def save(self) -> None:
        """mozaik's ``save()``: make every change durable (:meth:`cldata.DataStore.commit`)."""
        self.commit()

    def load(self) -> None:
        """mozaik's ``load()``: see the last committed state (:meth:`cldata.DataStore.refresh`)."""
        self.refresh()

    def identify_unpresented_stimuli(self, stimuli: list[Any]) -> list[int]:  # type: ignore[override]
        """mozaik's ``identify_unpresented_stimuli``: indexes (:meth:`MozaikView.identify_unpresented_stimuli`)."""
        return self.root_view.identify_unpresented_stimuli(stimuli)

    def add_stimulus(self, data: Any, stimulus: Any) -> str | None:
        """mozaik's ``add_stimulus``: keep the raw stimulus ``data`` for ``stimulus`` (a dict of
        stimulation parameters) when the store was made with ``store_stimuli``, as a
        :class:`cldata.Data` result ``"sensory_stimulus"`` with the stimulus as its
        ``stimulation`` parameter; return its id (``None`` when not stored)."""
        if not self.store_stimuli:
            return None
        return self.add_analysis_result(Data(SENSORY_STIMULUS, value=data,
                                             parameters={"stimulation": _stimulus_dict(stimulus)}))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> DataStore:  # type: ignore[override]
        """The store of ``parameters`` (``root_directory``), loaded when it exists."""
        params = plain_parameters(parameters, "the datastore parameters")
        root = params.get("root_directory")
        return cls(bool(root) and (Path(root) / MARKER).exists(), parameters, replace=bool(params.get("replace")))


class PickledDataStore(DataStore):
    """mozaik's ``PickledDataStore``: a new store is made with cldata's ``"pickle"`` backend
    (an existing store keeps its own; nothing is ever unpickled but through cldata's allow-list)."""

    backend_name = "pickle"


class Hdf5DataStore(DataStore):
    """mozaik's ``Hdf5DataStore``: a new store is made with cldata's ``"hdf5"`` backend."""

    backend_name = "hdf5"


def load(root: str | os.PathLike[str], replace: bool = False, store_stimuli: bool = False) -> DataStore:
    """Open the store in ``root`` as mozaik's ``DataStore(load=True, ...)`` does (it must exist).

    Examples
    --------
    >>> data_store = load("lab-store")          # doctest: +SKIP
    """
    return DataStore(True, {"root_directory": str(root), "store_stimuli": store_stimuli}, replace=replace)


def save(store: Any) -> None:
    """mozaik's ``data_store.save()`` for any cldata store: commit its changes."""
    if not isinstance(store, _CldataDataStore):
        raise ParameterError(f"save() takes a cldata DataStore, not {type(store).__name__}")
    store.commit()


def identify_unpresented_stimuli(dsv: Any, stimuli: list[Any]) -> list[int]:
    """The indexes in ``stimuli`` (dicts of stimulation parameters) of those no recording of ``dsv``
    was a response to: mozaik's current ``identify_unpresented_stimuli``
    (:func:`cldata.query.stimuli.unpresented_stimulus_indexes`)."""
    return unpresented_stimulus_indexes(as_view(dsv), stimuli)
