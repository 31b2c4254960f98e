"""Sweeps: every ParameterRange is an axis; one parameter set per combination, in a fixed order."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parameters import ParameterRange, ParameterReference, ParameterSet

from cldata.batch.paramfile import dump_parameters, load_parameters, parse_parameters
from cldata.batch.sweep import expand_sweeps, iter_sweeps, sweep_axes, sweep_size


def has_range(node):
    return any(isinstance(v, ParameterRange) or (isinstance(v, dict) and has_range(v)) for v in node.values())


def test_no_ranges_gives_the_parameters_themselves():
    p = ParameterSet({"a": 1, "b": {"c": [1, 2]}})
    assert expand_sweeps(p) == [({}, p)]
    assert expand_sweeps(p)[0][1] is p
    ((combination, q),) = expand_sweeps({"a": {"b": 1}})      # a dict is converted
    assert combination == {} and isinstance(q, ParameterSet) and isinstance(q.a, ParameterSet)
    assert sweep_axes(p) == {} and sweep_size(p) == 1


def test_order_axes_sorted_by_path_first_slowest():
    p = parse_parameters("""{
        "z": ParameterRange([1, 2]),
        "a": {"y": ParameterRange(["u", "v"]), "x": 0},
        "m": ParameterRange([True, False, None]),
    }""")
    assert sweep_axes(p) == {"a.y": ["u", "v"], "m": [True, False, None], "z": [1, 2]}
    assert sweep_size(p) == 12
    out = expand_sweeps(p)
    assert [c for c, _ in out] == [{"a.y": ay, "m": m, "z": z}
                                   for ay, m, z in itertools.product(["u", "v"], [True, False, None], [1, 2])]
    for combination, q in out:
        assert isinstance(q, ParameterSet) and not has_range(q)
        assert (q["a.y"], q.m, q.z, q.a.x) == (combination["a.y"], combination["m"], combination["z"], 0)
    # the input is untouched, and a second expansion gives the same
    assert p.z == ParameterRange([1, 2])
    assert [c for c, _ in expand_sweeps(p)] == [c for c, _ in out]


def test_values_in_the_order_given_and_at_any_depth():
    p = ParameterSet({"a": {"b": {"c": {"d": ParameterRange([3, 1, 2])}}}})
    assert [q.a.b.c.d for _, q in expand_sweeps(p)] == [3, 1, 2]
    assert [c for c, _ in expand_sweeps(p)] == [{"a.b.c.d": 3}, {"a.b.c.d": 1}, {"a.b.c.d": 2}]


def test_path_sorting_is_by_dotted_string():
    p = ParameterSet({"a-x": ParameterRange([1]), "a": {"b": ParameterRange([2])}, "a_c": ParameterRange([3])})
    assert list(sweep_axes(p)) == ["a-x", "a.b", "a_c"]


def test_swept_dicts_become_parameter_sets_and_copies_are_independent():
    p = parse_parameters("{'smooth': ParameterRange([{'kind': 'box', 'w': [1]}, {'kind': 'gauss', 'w': [2]}])}")
    out = expand_sweeps(p)
    assert [q.smooth.kind for _, q in out] == ["box", "gauss"]
    assert all(isinstance(q.smooth, ParameterSet) for _, q in out)
    out[0][1].smooth.w.append(99)                    # one run changing its parameters...
    out[0][0]["smooth"]["w"].append(98)
    assert out[1][1].smooth.w == [2]                 # ...changes no other run
    assert p.smooth == ParameterRange([{"kind": "box", "w": [1]}, {"kind": "gauss", "w": [2]}])
    assert expand_sweeps(p)[0][1].smooth.w == [1]


def test_lists_are_leaves():
    # only ranges that are values of keys are axes, as in the `parameters` package
    p = ParameterSet({"a": [1, 2], "b": ParameterRange([[1, 2], [3]])})
    assert sweep_axes(p) == {"b": [[1, 2], [3]]}
    assert [q.b for _, q in expand_sweeps(p)] == [[1, 2], [3]]


@pytest.mark.parametrize("suffix", [".param", ".json", ".yaml"])
def test_sweeps_from_files(tmp_path, suffix):
    spec = parse_parameters("""{
        "analyses": {"psth": {"class": "X", "params": {"bin_ms": ParameterRange([1, 2, 5]),
                                                        "window_ms": ref("defaults.window_ms")}}},
        "defaults": {"window_ms": ParameterRange([50, 100])},
    }""")
    p = load_parameters(dump_parameters(spec, tmp_path / f"run{suffix}"))
    params = p.analyses.psth.params
    # a reference to a sweep copies it: the analysis sweeps over both axes
    assert sweep_axes(params) == {"bin_ms": [1, 2, 5], "window_ms": [50, 100]}
    assert len(expand_sweeps(params.as_dict())) == 6           # as the runner calls it
    assert len(expand_sweeps(p)) == 12                          # defaults.window_ms is an axis too


def test_overrides_can_replace_or_create_a_sweep(tmp_path):
    path = tmp_path / "run.param"
    path.write_text("{'bin_ms': ParameterRange([1, 2, 5]), 'w': 3}")
    assert sweep_axes(load_parameters(path, ["bin_ms=2"])) == {}
    assert sweep_axes(load_parameters(path, ["w=ParameterRange([3, 4])"])) == {"bin_ms": [1, 2, 5], "w": [3, 4]}


def test_references_built_in_python_see_each_combination():
    # an unresolved reference (a set built in Python, not read from a file) is resolved per
    # combination, after the ranges are replaced
    p = ParameterSet({"a": ParameterRange([1, 2]), "b": ParameterReference("a"), "c": {"d": ParameterReference("b")}})
    assert [(q.a, q.b, q.c.d) for _, q in expand_sweeps(p)] == [(1, 1, 1), (2, 2, 2)]
    assert expand_sweeps({"x": 1, "y": ParameterReference("x")}) == [({}, {"x": 1, "y": 1})]


def test_iter_sweeps_is_lazy():
    p = ParameterSet({f"k{i}": ParameterRange(list(range(10))) for i in range(9)})   # 10**9 combinations
    assert sweep_size(p) == 10**9
    first = next(iter_sweeps(p))
    assert first[0] == {f"k{i}": 0 for i in range(9)}


_value = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
_key = st.sampled_from(["a", "b", "c", "x1", "x_2", "Z"])
_path = st.lists(_key, min_size=1, max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_path, st.lists(_value, min_size=1, max_size=3), max_size=4), st.integers(0, 5))
def test_expansion_is_the_cartesian_product(axes, fixed):
    # build a tree with a range at each path (skipping paths that would pass through another axis)
    tree: dict = {"fixed": fixed}
    placed = {}
    for path, values in sorted(axes.items()):
        node = tree
        ok = True
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                ok = False
                break
            node = child
        if not ok or path[-1] in node:
            continue
        node[path[-1]] = ParameterRange(list(values))
        placed[".".join(path)] = values
    params = ParameterSet(tree)
    assert sweep_axes(params) == dict(sorted(placed.items()))
    out = expand_sweeps(params)
    order = sorted(placed)
    expected = [dict(zip(order, combo)) for combo in itertools.product(*(placed[k] for k in order))]
    assert [c for c, _ in out] == expected
    assert len(out) == sweep_size(params)
    for combination, q in out:
        assert not has_range(q) and q.fixed == fixed
        for path, value in combination.items():
            assert q[path] == value
