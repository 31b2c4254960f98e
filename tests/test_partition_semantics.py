"""Every partition query keeps its documented invariant on random stores (cldata.query.partitions).

"Vary" partitions (mozaik's meaning: the named parameters vary inside a part, everything else
about an entry is constant in it and tells two parts apart) and "values of" partitions (the
named parameters are constant inside a part and tell parts apart; entries lacking one are in
no part). Both: parts are disjoint and every part keeps the view's recordings (results
partitions) — checked on stores of real simulated recordings with random results.
"""

from __future__ import annotations

import warnings
from itertools import count

import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.core.canonical import canonical, flatten
from cldata.errors import UnknownParameterError
from cldata.model.entries import MISSING, lookup
from cldata.query import (
    partition_by_parameters,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
    partition_results_by_values_of,
)
from cldata.query.base import query_from_spec
from cldata.query.partitions import split_results_by_parameters

RESULT_KEYS = ("window_s", "method", "bin", "seed")
STIM_KEYS = ("frequency", "amplitude", "pattern")
_values = st.sampled_from([0.5, 1, 2, "a", "b"])

recording_params = st.fixed_dictionaries(
    {"culture": st.sampled_from(["C1", "C2"])},
    optional={"stimulation": st.dictionaries(st.sampled_from(STIM_KEYS), st.sampled_from([4, 8, "x"]), min_size=1),
              "session": st.integers(0, 2)},
)
result_spec = st.tuples(
    st.sampled_from(["rate", "count"]),                                   # identifier
    st.dictionaries(st.sampled_from(RESULT_KEYS), _values, max_size=4),   # parameters
    st.integers(0, 2),                                                    # source recording
)
stores = st.tuples(st.lists(recording_params, min_size=1, max_size=3),
                   st.lists(result_spec, min_size=1, max_size=10,
                            unique_by=lambda r: (r[0], tuple(sorted(r[1].items(), key=repr)), r[2])))

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def recording_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    paths = [root / f"r{i}.h5" for i in range(3)]
    for i, path in enumerate(paths):
        cldata.simulate(path, seconds=0.05, seed=3 + i)
    return paths


@pytest.fixture(scope="module")
def make_store(tmp_path_factory, recording_files):
    root = tmp_path_factory.mktemp("stores")
    numbers = count()
    opened = []

    def make(spec):
        recs, results = spec
        store = cldata.open(root / f"s{next(numbers)}", mode="w")
        opened.append(store)
        ids = [store.add_recording(recording_files[i], {**p, "n": i}, link=True) for i, p in enumerate(recs)]
        added = set()
        for identifier, params, source in results:
            identity = (identifier, canonical(params), source % len(ids))
            if identity in added:
                continue  # the same result twice (sources wrap around): a store refuses it
            added.add(identity)
            store.add_analysis_result(cldata.SingleValue(identifier, 1.0 * pq.Hz, parameters=params,
                                                         sources=[ids[source % len(ids)]]))
        store.commit()
        return store

    yield make
    for store in opened:
        store.close()


def _result_entries(view):
    return list(view.selection.result_entries(view.catalog).values())


def _identity(entry, names):
    flat = {**flatten(entry.parameters), "kind": entry.kind, "identifier": entry.identifier}
    return {p: canonical(v) for p, v in flat.items() if not any(p == n or p.startswith(n + ".") for n in names)}


def _result_ids(view):
    return [e.id for e in _result_entries(view)]


def _disjoint(parts, ids_of):
    seen: list[str] = []
    for part in parts:
        seen.extend(ids_of(part))
    assert len(seen) == len(set(seen)), "an entry is in two parts"
    return set(seen)


def _known_result_names(store):
    return sorted({k for e in _result_entries(store) for k in flatten(e.parameters)})


@SETTINGS
@given(spec=stores, data=st.data())
def test_results_partition_by_parameters_lets_the_named_vary_and_holds_everything_else(make_store, spec, data):
    store = make_store(spec)
    known = _known_result_names(store)
    names = data.draw(st.lists(st.sampled_from(known or ["kind"]), min_size=1, max_size=3, unique=True))
    parts = partition_results_by_parameters(store, names, except_=True)
    # every result is in exactly one part (one lacking a named parameter has nothing to vary)
    assert _disjoint(parts, _result_ids) == set(_result_ids(store))
    identities = []
    for part in parts:
        assert part.recording_ids == store.recording_ids
        ids = {canonical(_identity(e, names)) for e in _result_entries(part)}
        assert len(ids) == 1, "a part mixes results differing in a parameter not named"
        identities.append(ids.pop())
    assert len(set(identities)) == len(identities), "two parts agree on every parameter not named"


@SETTINGS
@given(spec=stores, data=st.data())
def test_results_partition_by_values_of_holds_the_named_constant(make_store, spec, data):
    store = make_store(spec)
    known = _known_result_names(store)
    names = data.draw(st.lists(st.sampled_from(known or ["identifier"]), min_size=1, max_size=3, unique=True))
    parts = partition_results_by_values_of(store, names)
    fields = {"kind", "identifier"}

    def value(e, n):
        return getattr(e, n) if n in fields else lookup(e.parameters, n)

    having = {e.id for e in _result_entries(store) if all(value(e, n) is not MISSING for n in names)}
    assert _disjoint(parts, _result_ids) == having
    keys = []
    for part in parts:
        assert part.recording_ids == store.recording_ids
        values = {tuple(canonical(value(e, n)) for n in names) for e in _result_entries(part)}
        assert len(values) == 1, "a part holds two values of a named parameter"
        keys.append(values.pop())
    assert len(set(keys)) == len(keys)
    # and the old meaning is except_=False
    assert [_result_ids(p) for p in partition_results_by_parameters(store, names, except_=False)] == \
        [_result_ids(p) for p in parts]


@SETTINGS
@given(spec=stores, data=st.data())
def test_stimulation_partition_lets_the_named_vary(make_store, spec, data):
    store = make_store(spec)
    recs = store.recordings
    present = sorted({k for r in recs for k in r.stimulus})
    excluded = data.draw(st.lists(st.sampled_from(STIM_KEYS), max_size=2, unique=True))
    spelled = [data.draw(st.sampled_from([n, f"st_{n}", f"stimulation.{n}"])) for n in excluded]
    if not set(excluded) <= set(present):
        with pytest.raises(UnknownParameterError):
            partition_by_stimulation_parameters(store, spelled)
        return
    parts = partition_by_stimulation_parameters(store, spelled)

    def rest(r):
        return canonical({k: v for k, v in r.stimulus.items() if k not in excluded})

    if all(rest(r) == canonical({}) for r in recs):
        assert [p.recording_ids for p in parts] == [store.recording_ids]
        return
    # every recording is in exactly one part (as in mozaik: one lacking a parameter is in a part of its own)
    assert _disjoint(parts, lambda v: v.recording_ids) == set(store.recording_ids)
    keys = []
    for part in parts:
        values = {rest(r) for r in part.recordings}
        assert len(values) == 1, "a part mixes stimuli differing in a parameter not named"
        keys.append(values.pop())
        for e in _result_entries(part):  # results go with their source's stimulus
            assert rest(store.recording(e.sources[0])) == keys[-1]
    assert len(set(keys)) == len(keys)
    assert sum(len(p.analysis_results) for p in parts) == len(store.analysis_results)


@SETTINGS
@given(spec=stores)
def test_results_stimulation_partition_holds_the_sources_other_stimulation_constant(make_store, spec):
    store = make_store(spec)
    parts = partition_results_by_stimulation_parameters(store, ["frequency"])
    _disjoint(parts, _result_ids)
    for part in parts:
        assert part.recording_ids == store.recording_ids
        stims = set()
        for e in _result_entries(part):
            src = store.recording(e.sources[0]).parameters.get("stimulation") or {}
            stims.add(canonical({k: v for k, v in src.items() if k != "frequency"}))
        assert len(stims) <= 1


@SETTINGS
@given(spec=stores)
def test_partition_by_parameters_groups_recordings_by_the_named_values(make_store, spec):
    store = make_store(spec)
    parts = partition_by_parameters(store, ["culture"])
    assert _disjoint(parts, lambda v: v.recording_ids) == set(store.recording_ids)
    assert all(len(p.parameter_values("culture", kind="recordings")) == 1 for p in parts)
    assert len({p.parameter_values("culture", kind="recordings")[0] for p in parts}) == len(parts)


# -- the transition: the changed default warns, explicit calls do not -----------------------------------


@pytest.fixture
def small_store(make_store):
    return make_store(([{"culture": "C1"}], [("rate", {"window_s": w, "method": m}, 0)
                                               for w in (0.5, 1) for m in ("a", "b")]))


def test_the_changed_default_warns_and_names_the_old_meaning(small_store):
    with pytest.warns(DeprecationWarning, match="partition_results_by_values_of") as caught:
        parts = partition_results_by_parameters(small_store, "window_s")
    assert caught[0].filename == __file__  # points at the caller
    assert [p.parameter_values("window_s", kind="results") for p in parts] == [[0.5, 1], [0.5, 1]]
    with pytest.warns(DeprecationWarning) as caught:
        assert len(small_store.partition_results_by("window_s")) == 2
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning) as caught:
        split_results_by_parameters(small_store.catalog, small_store.selection, "window_s")
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning):
        query_from_spec({"class": "PartitionResultsByParametersQuery",
                         "params": {"parameter_names": ["window_s"]}}).query(small_store)


def test_explicit_meanings_do_not_warn(small_store):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vary = small_store.partition_results_by("window_s", except_=True)
        values = small_store.partition_results_by_values_of("window_s")
        old = small_store.partition_results_by("window_s", except_=False)
        by_class = query_from_spec({"class": "PartitionResultsByValuesOfQuery",
                                    "params": {"parameter_names": ["window_s"]}}).query(small_store)
    assert [p.parameter_values("window_s", kind="results") for p in vary] == [[0.5, 1], [0.5, 1]]
    assert [p.parameter_values("window_s", kind="results") for p in values] == [[0.5], [1]]
    assert [_result_ids(p) for p in old] == [_result_ids(p) for p in values] == [_result_ids(p) for p in by_class]


def test_a_named_parameter_no_result_has_raises_in_both_meanings(small_store):
    with pytest.raises(UnknownParameterError, match=r"did you mean 'window_s'\?"):
        small_store.partition_results_by("window", except_=True)
    with pytest.raises(UnknownParameterError, match=r"did you mean 'window_s'\?"):
        small_store.partition_results_by_values_of("window")
