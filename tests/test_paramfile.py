"""Parameter files: read as data in three formats, overrides, references, includes, dump
round trips, and hostile files that must be refused without anything in them running."""

from __future__ import annotations

import ast
import builtins
import json
import math
import os
import time

import numpy as np
import parameters
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parameters import ParameterRange, ParameterReference, ParameterSet

from cldata.batch.paramfile import (
    MAX_DEPTH,
    Reference,
    apply_overrides,
    dump_parameters,
    format_parameters,
    load_parameters,
    parse_override,
    parse_parameters,
    parse_value,
    resolve_references,
)
from cldata.errors import ParameterError

yaml = pytest.importorskip("yaml")


@pytest.fixture
def no_code(monkeypatch, tmp_path_factory):
    """Fail the test if eval / exec run, or anything is compiled to code (ast.parse, which
    only builds a syntax tree, is allowed)."""
    # Importing a module execs its code: do the loader's lazy imports (codecs, yaml,
    # tokenize, the atomic writer) first, so that any exec in the test is a real finding.
    warm = tmp_path_factory.mktemp("warm")
    for name, text in [("w.param", "{'a': 1}"), ("w.json", "{}"), ("w.yaml", "a: 1")]:
        load_parameters(dump_parameters(parse_parameters(text, format=format_of(name)), warm / name))
    with pytest.raises(ParameterError):
        parse_parameters("{'a': " + "-" * 100_000 + "1}")
    calls = []
    real_compile = builtins.compile

    def guarded_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            calls.append(("compile", source))
            raise AssertionError("code was compiled")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(name):
        def f(*args, **kwargs):
            calls.append((name, args))
            raise AssertionError(f"{name} was called")
        return f

    monkeypatch.setattr(builtins, "compile", guarded_compile)
    monkeypatch.setattr(builtins, "eval", forbidden("eval"))
    monkeypatch.setattr(builtins, "exec", forbidden("exec"))
    yield calls
    assert calls == []


def format_of(name):
    return {"json": "json", "yaml": "yaml"}.get(name.rsplit(".", 1)[-1], "param")


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --- the three formats --------------------------------------------------------------------------

PARAM_TEXT = '''\
# a batch run, in the NeuralEnsemble `parameters` format
    {
    "store": {"root_directory": "lab-store"},   # indented start, as eval() allows
    'query': [{"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}},
              {"class": "TimeWindowQuery", "params": {"start": 0, "stop": {"$quantity": [2, "s"]}}}],
    "analyses": {
        "psth": {
            "class": "StimulusTriggeredHistogram",
            "params": {
                "bin_ms": ParameterRange([1, 2, 5]),     # a sweep
                "window_ms": ref("defaults.window_ms"),
                "smooth": ref("defaults.smooth"),
                "span": (-0.5, +1.5),
            },
        },
    },
    "defaults": {"window_ms": 50.0, "smooth": {"kind": "box", "width": 3}},
    "executor": {"kind": "processes", "workers": 2, "verbose": true, "debug": False,
                 "address": None},
    "misc": {"pi": pi, "big": float('inf'), "neg": -3, "text": "é\\n'q'", 'implicit' 'concat': 1e-3},
}
'''


def test_parameters_text_format(tmp_path, no_code):
    p = load_parameters(write(tmp_path / "run.param", PARAM_TEXT))
    assert isinstance(p, ParameterSet) and isinstance(p.analyses.psth.params, ParameterSet)
    assert p.store.root_directory == "lab-store"
    assert p.query[1]["params"]["stop"] == {"$quantity": [2, "s"]}    # other $ keys are data
    assert type(p.query[0]) is dict                                   # dicts in lists stay dicts
    params = p["analyses.psth.params"]
    assert params.bin_ms == ParameterRange([1, 2, 5])
    assert params.window_ms == 50.0
    assert params.smooth == {"kind": "box", "width": 3} and isinstance(params.smooth, ParameterSet)
    assert params.smooth is not p.defaults.smooth                     # a copy, not shared
    assert params.span == (-0.5, 1.5)
    assert p.executor == {"kind": "processes", "workers": 2, "verbose": True, "debug": False, "address": None}
    assert p.misc == {"pi": math.pi, "big": math.inf, "neg": -3, "text": "é\n'q'", "implicitconcat": 1e-3}


@pytest.mark.parametrize("suffix", [".par", ".txt", ""])
def test_other_suffixes_are_the_parameters_format(tmp_path, suffix):
    assert load_parameters(write(tmp_path / f"run{suffix}", "{'a': ref('b'), 'b': 1}")) == {"a": 1, "b": 1}


def test_json_format(tmp_path, no_code):
    text = json.dumps({
        "store": {"root_directory": "s"},
        "analyses": {"rate": {"class": "FiringRate",
                              "params": {"bin_ms": {"$sweep": [1, 2]}, "w": {"$ref": "defaults.w"}}}},
        "defaults": {"w": [1, 2.5, None, True, "x"]},
        "special": [math.nan, math.inf],
    }, indent=1)
    p = load_parameters(write(tmp_path / "run.json", text))
    assert p.analyses.rate.params.bin_ms == ParameterRange([1, 2])
    assert p.analyses.rate.params.w == [1, 2.5, None, True, "x"]
    assert math.isnan(p.special[0]) and p.special[1] == math.inf


def test_yaml_format_with_anchors_and_merges(tmp_path, no_code):
    text = """\
# comments are fine
defaults: &defaults
  window_ms: 50
  kind: box
analyses:
  psth:
    class: StimulusTriggeredHistogram
    params:
      <<: *defaults
      kind: gauss               # explicit keys win over merged ones
      bin_ms: {$sweep: [1, 2, 5]}
      same: {$ref: defaults.window_ms}
  names_are_fine_nested: {'n': .inf}
"""
    p = load_parameters(write(tmp_path / "run.yaml", text))
    params = p.analyses.psth.params
    assert params == {"window_ms": 50, "kind": "gauss", "bin_ms": ParameterRange([1, 2, 5]), "same": 50}
    assert p.analyses.names_are_fine_nested.n == math.inf
    assert load_parameters(write(tmp_path / "run.yml", "a: 1")) == {"a": 1}


@pytest.mark.parametrize("name,text", [("e.param", ""), ("c.param", "# only a comment\n\n"),
                                       ("e.json", "  \n"), ("e.yaml", "# nothing\n")])
def test_empty_files_are_empty_parameter_sets(tmp_path, name, text):
    assert load_parameters(write(tmp_path / name, text)) == {}


def test_parameter_table(tmp_path):
    p = parse_parameters("{'t': ParameterTable('''\n  #   c1  c2\n  r1  1   2\n  r2  3   4.5\n''')}")
    assert p.t == {"r1": {"c1": 1.0, "c2": 2.0}, "r2": {"c1": 3.0, "c2": 4.5}}
    assert parse_parameters("{'t': ParameterSet({'a': 1})}") == {"t": {"a": 1}}


# --- references ---------------------------------------------------------------------------------


def test_references_follow_chains_and_copy_subtrees():
    p = parse_parameters("{'a': ref('b'), 'b': ref('c.d'), 'c': {'d': 4, 'e': ref('c.d')}, 'f': ref('c')}")
    assert p == {"a": 4, "b": 4, "c": {"d": 4, "e": 4}, "f": {"d": 4, "e": 4}}
    assert isinstance(p.f, ParameterSet) and p.f is not p.c


def test_reference_to_a_sweep_copies_the_sweep():
    # as in the `parameters` package: the referring key is a sweep axis of its own
    p = parse_parameters("{'a': ParameterRange([1, 2]), 'b': ref('a')}")
    assert p.b == ParameterRange([1, 2]) and p.b is not p.a


@pytest.mark.parametrize("text,line,message", [
    ("{'a': ref('b'),\n 'b': ref('a')}", 1, "cycle"),
    ("{'a': {\n  'x': ref('a')}}", 2, "refers to itself"),
    ("{'a': {'y': ref('b')},\n 'b': {'x': ref('a')}}", 1, "cycle"),
    ("{'a': 1,\n 'b': ref('nope')}", 2, "no parameter 'nope' at the top level"),
    ("{'a': {'x': 1},\n 'b': ref('a.y')}", 2, "no parameter 'y' in 'a'"),
    ("{'a': 1,\n\n 'b': ref('a.c')}", 3, "is not a parameter set"),
    ("{'a': ParameterRange([{'x': 1}]),\n 'b': ref('a.x')}", 2, "sweep"),
    ("{'a': ref('')}", 1, "not a dotted parameter path"),
    ("{'a': ref('x..y')}", 1, "not a dotted parameter path"),
])
def test_bad_references(text, line, message):
    with pytest.raises(ParameterError, match=message) as info:
        parse_parameters(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"<string>:{line}:")


def test_resolve_references_on_python_built_sets():
    p = ParameterSet({"a": {"x": 2}, "b": ParameterReference("a.x")})
    assert resolve_references(p) == {"a": {"x": 2}, "b": 2}
    assert isinstance(p["b"], ParameterReference)    # the input is not changed
    lazy = ParameterReference("a.x") * 3               # the package's lazy arithmetic, built in Python
    assert resolve_references({"a": {"x": 2}, "b": lazy})["b"] == 6
    with pytest.raises(ParameterError, match="cycle"):
        resolve_references({"a": Reference("b"), "b": Reference("a")})


# --- includes -----------------------------------------------------------------------------------


def test_includes_are_relative_and_may_mix_formats(tmp_path, no_code):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "store.json", '{"root_directory": "lab", "more": {"$include": "more.yaml"}}')
    write(tmp_path / "sub" / "more.yaml", "x: 1\ny: {$ref: top}\n")
    write(tmp_path / "shared.param", "{'k': 2}")
    write(tmp_path / "sub" / "up.param", "{'shared': url('../shared.param')}")   # still inside the top directory
    p = load_parameters(write(tmp_path / "run.param",
                              "{'store': url('sub/store.json'), 'top': 7, 's': ParameterSet('sub/up.param')}"))
    assert p == {"store": {"root_directory": "lab", "more": {"x": 1, "y": 7}}, "top": 7,
                 "s": {"shared": {"k": 2}}}


@pytest.mark.parametrize("target,message", [
    ("/etc/passwd", "only a relative path"),
    ("http://example.com/p.param", "only a relative path"),
    ("file:///etc/passwd", "only a relative path"),
    ("~/p.param", "only a relative path"),
    ("../outside.param", "outside the parameter file's directory"),
    ("sub/../../outside.param", "outside the parameter file's directory"),
    ("link/evil.param", "outside the parameter file's directory"),
    ("missing.param", "cannot read"),
    ("self.param", "include each other"),
])
def test_includes_refused(tmp_path, target, message):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write(outside / "evil.param", "{'x': 1}")
    write(tmp_path / "outside.param", "{'x': 1}")
    os.symlink(outside, top / "link")
    path = write(top / "self.param", f"{{'a': 1,\n 'b': url({target!r})}}")
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(path)
    assert info.value.line == 2 and str(path) in str(info.value)


def test_include_cycles_between_files(tmp_path):
    write(tmp_path / "a.param", "{'b': url('b.json')}")
    write(tmp_path / "b.json", '{"a": {"$include": "a.param"}}')
    with pytest.raises(ParameterError, match=r"include each other \(a.param -> b.json -> a.param\)"):
        load_parameters(tmp_path / "a.param")


def test_includes_need_a_file():
    with pytest.raises(ParameterError, match="only allowed in a parameter file"):
        parse_parameters("{'a': url('x.param')}")


# --- hostile files: refused, with the line, and nothing ran ---------------------------------------

HOSTILE = [
    # (text with MARKER standing for the marker file, line of the refusal, message fragment)
    ("{'a': __import__('os').system('touch MARKER')}", 1, "call of"),
    ("{'a': 1,\n 'b': __import__('os')}", 2, "call of '__import__'"),
    ("{'a': 1,\n 'b': open('MARKER', 'w')}", 2, "call of 'open'"),
    ("{'a':\n ().__class__.__bases__[0].__subclasses__()}", 2, "call of"),
    ("{'a': ().__class__}", 1, "attribute access"),
    ("{'a': [1][0]}", 1, "subscripts"),
    ("{'a': (lambda: __import__('os').system('touch MARKER'))()}", 1, "call of"),
    ("{'a': lambda: 0}", 1, "lambdas"),
    ("{'a': [__import__('os').system('touch MARKER') for _ in [1]]}", 1, "comprehensions"),
    ("{'a': {k: 1 for k in 'ab'}}", 1, "comprehensions"),
    ("{'a': (x for x in [1])}", 1, "generator"),
    ("{'a': f\"{__import__('os').system('touch MARKER')}\"}", 1, "f-strings"),
    ("{'a': ref(__import__('os').system('touch MARKER'))}", 1, r"ref\(\) takes a string literal"),
    ("{'a': ParameterRange(__import__('os').system('touch MARKER'))}", 1, "takes a list"),
    ("{'a': ParameterRange([1], shuffle=__import__('os').system('touch MARKER'))}", 1, "no keyword arguments"),
    ("{'a': url(__import__('os').system('touch MARKER'))}", 1, "takes a file name"),
    ("{'a': float(__import__('os').system('touch MARKER'))}", 1, r"float\(\) takes a string"),
    ("{'a':\n\n 10**10**10}", 3, "operator '\\*\\*'"),
    ("{'a': 1 + 1}", 1, "operator '\\+'"),
    ("{'a': ~1}", 1, "operator '~'"),
    ("{'a': not 1}", 1, "operator 'not'"),
    ("{'a': 1 if 1 else 2}", 1, "conditional"),
    ("{'a': 1 < 2}", 1, "comparisons"),
    ("{'a': (x := 1)}", 1, "assignment expressions"),
    ("{'a': {1, 2}}", 1, "set literals"),
    ("{'a': [*'ab']}", 1, "unpacking"),
    ("{**__import__('os').environ}", 1, "unpacking"),
    ("{'a': os}", 1, "name 'os' is not allowed"),
    ("{'a': __builtins__}", 1, "name '__builtins__'"),
    ("{'a': eval('1')}", 1, "call of 'eval'"),
    ("{'a': exec('import os')}", 1, "call of 'exec'"),
    ("{'a': getattr(1, 'real')}", 1, "call of 'getattr'"),
    ("{'a': breakpoint()}", 1, "call of 'breakpoint'"),
    ("{'a': NormalDist(0, 1)}", 1, "NormalDist is not supported"),
    ("{'a': GammaDist(m=1, s=1)}", 1, "GammaDist is not supported"),
    ("{'a': ref('b') * 2, 'b': 1}", 1, "operator"),
    ("{'a': [ref('b')], 'b': 1}", 1, "only allowed as the value of a key"),
    ("{'a': b'bytes'}", 1, "bytes"),
    ("{'a': 1j}", 1, "complex"),
    ("{'a': ...}", 1, "Ellipsis"),
    ("{'a': 1}\n__import__('os').system('touch MARKER')", 2, "syntax error"),
    ("import os\nos.system('touch MARKER')", 1, "syntax error"),
    ("{'a': 1})\n(__import__('os').system('touch MARKER')", 1, "syntax error"),
    ("  {'a': 1})\n(__import__('os').system('touch MARKER')", 2, "syntax error"),   # indented: parsed in (...)
    ("  {'a': 1})(__import__('os').system('touch MARKER')", 1, "call of"),
    ("  {'a': 1,\n 'b': x}", 2, "name 'x'"),
    ("{'a': '''\n''' + __import__('os').system('touch MARKER')}", 1, "operator"),
    ("{'a': 1,\n 'parameters': 2}", 2, "'parameters' is not allowed as a parameter name"),
    ("{'a': 1,\n 'names': 2}", 2, "'names' is not allowed"),
    ("{'a': 1,\n 'x.y': 2}", 2, "contains '.'"),
    ("{'a': 1,\n '': 2}", 2, "non-empty"),
    ("{'a': 1,\n 'a': 2}", 2, "duplicate key"),
    ("{1: 'a'}", 1, "keys must be string literals"),
    ("[__import__('os')]", 1, "call of"),
    ("{'a': ParameterRange([])}", 1, "at least one value"),
    ("{'a': ParameterRange([ParameterRange([1])])}", 1, "only allowed as the value of a key"),
    ("{'a': 1" + "9" * 5000 + "}", 1, "syntax error"),          # more digits than Python converts
    ("{'a': 0x" + "f" * 4000 + "}", 1, "integer too large"),     # converts, but could never be written
    ("{'a': 1,\n 'b': 2 '\x00'}", 2, "NUL"),
]


@pytest.mark.parametrize("text,line,message", HOSTILE)
def test_code_in_a_parameter_file_is_refused(tmp_path, no_code, text, line, message):
    marker = tmp_path / "MARKER"
    path = write(tmp_path / "evil.param", text.replace("MARKER", str(marker)))
    t0 = time.monotonic()
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(path)
    assert time.monotonic() - t0 < 5
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:")
    assert not marker.exists()


def test_deep_nesting_is_refused_not_a_crash(tmp_path, no_code):
    # within the parser's limits: refused by the walk, at the innermost line
    text = "{'a':\n" * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5)
    with pytest.raises(ParameterError, match="nested more than") as info:
        load_parameters(write(tmp_path / "deep.param", text))
    assert info.value.line == MAX_DEPTH + 2
    # beyond the parser's limits (brackets, chained operators, attribute chains)
    cases = [("{'a':\n" + "[" * 100_000 + "]" * 100_000 + "}", 2),
             ("{'a':\n " + "-" * 100_000 + "1}", 2),
             ("{'a':\n 1" + " + 1" * 100_000 + "}", 2),
             ("{'a':\n x" + ".y" * 100_000 + "}", 2),
             ("{'a':\n ()" + "[0]" * 100_000 + "}", 2)]
    for text, line in cases:
        with pytest.raises(ParameterError) as info:
            load_parameters(write(tmp_path / "deeper.param", text))
        assert info.value.line == line, str(info.value)
    for name, text in [("deep.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                       ("deep.yaml", "a: " + "[" * 20_000 + "]" * 20_000)]:
        with pytest.raises(ParameterError, match="nested"):
            load_parameters(write(tmp_path / name, text))


YAML_HOSTILE = [
    ("a: 1\nb: !!python/object/apply:os.system ['touch MARKER']\n", 2, "python/object/apply:os.system"),
    ("a: !!python/object/new:os.system ['touch MARKER']\n", 1, "python/object/new"),
    ("a: !!python/name:os.system\n", 1, "python/name"),
    ("a:\n  - !!python/module:os\n", 2, "python/module"),
    ("!!python/object/apply:os.system ['touch MARKER']\n", 1, "python/object/apply"),
    ("a: !custom 1\n", 1, "'!custom'"),
    ("a: !!binary aGk=\n", 1, "binary"),
    ("a: !!set {x}\n", 1, "set"),
    ("a: 2024-01-01\n", 1, "quote a date"),
    ("a: 1\na: 2\n", 2, "duplicate key"),
    ("a: 1\nyes: 2\n", 2, "keys must be strings"),
    ("a: 1\nb.c: 2\n", 2, "contains '.'"),
    ("a: 1\nparameters: 2\n", 2, "'parameters' is not allowed"),
    ("a: &x [*x]\n", 1, "nested more than"),
    ("a: 1\nb: {$sweep: 3}\n", 2, "takes a list"),
    ("a: 1\n---\nb: 2\n", 2, "another document"),
    ("- 1\n", 1, "must hold a dict"),
    ("a: [1, 2\n", 2, "YAML error"),
]


@pytest.mark.parametrize("text,line,message", YAML_HOSTILE)
def test_yaml_refusals(tmp_path, no_code, text, line, message):
    marker = tmp_path / "MARKER"
    path = write(tmp_path / "evil.yaml", text.replace("MARKER", str(marker)))
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(path)
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:")
    assert not marker.exists()


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    t0 = time.monotonic()
    with pytest.raises(ParameterError, match="values: refused as too large"):
        load_parameters(write(tmp_path / "bomb.yaml", "\n".join(lines)))
    assert time.monotonic() - t0 < 10


def test_yaml_merge_bomb_is_refused(tmp_path):
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4}"]
    for i in range(1, 40):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}")
    with pytest.raises(ParameterError, match="too large|nested more than|merges nested"):
        load_parameters(write(tmp_path / "merge.yaml", "\n".join(lines)))


JSON_BAD = [
    ('{"a": 1,\n "b": 2,}', 2, "expected a string key"),
    ('{"a": [1,\n 2}', 2, "expected ',' or ']'"),
    ('{"a": 1,\n "a": 2}', 2, "duplicate key"),
    ('{"a": 1,\n "parameters": 2}', 2, "'parameters' is not allowed"),
    ('{"a": 1,\n "b": {"$ref": 3}}', 2, "takes a string"),
    ('{"a": 1,\n "b": {"$sweep": [1], "c": 2}}', 2, "must be the only key"),
    ('{"a": 1,\n "b": [{"$ref": "a"}]}', 2, "only allowed as the value of a key"),
    ('{"a": 1}\n{"b": 2}', 2, "extra data"),
    ('{"a": tru}', 1, "unexpected"),
    ('{"a": "\\x"}', 1, "invalid JSON string"),
    ('[1]', 1, "must hold a dict"),
    ('{"a": 1' + "0" * 5000 + "}", 1, "integer too large"),
]


@pytest.mark.parametrize("text,line,message", JSON_BAD)
def test_json_refusals(tmp_path, text, line, message):
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(path)
    assert info.value.line == line, str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ParameterError, match="cannot read"):
        load_parameters(tmp_path / "missing.param")
    (tmp_path / "latin1.param").write_bytes(b"{'a': '\xe9'}")
    with pytest.raises(ParameterError, match="not UTF-8"):
        load_parameters(tmp_path / "latin1.param")
    (tmp_path / "huge.param").write_bytes(b"{'a': '" + b"x" * (5 * 2**20) + b"'}")
    with pytest.raises(ParameterError, match="larger than"):
        load_parameters(tmp_path / "huge.param")


# --- overrides ----------------------------------------------------------------------------------


def test_overrides(tmp_path):
    path = write(tmp_path / "run.param", """{
        "analyses": {"rate": {"bin_ms": 1, "w": ref("defaults.w")}},
        "defaults": {"w": 10},
        "executor": {"kind": "processes"},
    }""")
    p = load_parameters(path, ["analyses.rate.bin_ms=5", "executor.kind=dask", "executor.address=tcp://10.0.0.1:8786",
                               "executor.host=my-host", "defaults.w=20", "x=[1, 2]", "y=ParameterRange([1, 2])",
                               "z = {'a': 1}", "s='quoted words'", "n=None", "t=true", "f=-1.5e-3",
                               "analyses.rate.copy=ref('defaults.w')"])
    assert p.analyses.rate == {"bin_ms": 5, "w": 20, "copy": 20}   # overrides come before references
    assert p.executor == {"kind": "dask", "address": "tcp://10.0.0.1:8786", "host": "my-host"}
    assert p.x == [1, 2] and p.y == ParameterRange([1, 2]) and p.s == "quoted words"
    assert p.z == {"a": 1} and isinstance(p.z, ParameterSet)
    assert p.n is None and p.t is True and p.f == -1.5e-3


def test_an_override_through_a_reference_changes_a_copy_only():
    p = parse_parameters("{'defaults': {'store': {'root_directory': 'a'}}, 'store': ref('defaults.store'), "
                         "'other': ref('defaults.store'), 'l': [1], 'rl': ref('l')}")
    apply_overrides(p, ["store.root_directory=/data/lab"])
    p = resolve_references(p)
    assert p["store"] == {"root_directory": "/data/lab"}
    assert p["other"] == p["defaults"]["store"] == {"root_directory": "a"}
    with pytest.raises(ParameterError, match="'rl' is not a parameter set"):
        apply_overrides(parse_parameters("{'l': [1], 'rl': ref('l')}"), ["rl.x=1"])
    dangling = parse_parameters("{'r': 0}")
    dangling["r"] = Reference("missing.key")  # as before resolution
    with pytest.raises(ParameterError, match="points at nothing"):
        apply_overrides(dangling, ["r.x=1"])


@pytest.mark.parametrize("override,message", [
    ("novalue", "written key=value"),
    ("=5", "written key=value"),
    ("a=", "empty value"),
    ("a.x.c=1", "no parameter 'a.x'"),
    ("a.b.c=1", "'a.b' is not a parameter set \\(it is int\\)"),
    ("l.x=1", "'l' is not a parameter set \\(it is list\\)"),
    ("a..b=1", "non-empty"),
    ("parameters=1", "'parameters' is not allowed"),
    ("a=[1, 2", "syntax error"),
    ("a={'x': 1", "syntax error"),
    ("a='unterminated", "syntax error"),
    ("a=__import__('os').system('true')", "call of"),
    ("a=open('x')", "call of 'open'"),
    ("a=ref(x)", "ref\\(\\) takes a string literal"),
    ("a=ParameterRange(1)", "takes a list"),
    ("a=url('x.param')", "only allowed in a parameter file"),
    ("a=[1, x.y]", "attribute access"),
])
def test_malformed_overrides(override, message):
    p = parse_parameters("{'a': {'b': 1}, 'l': [1], 'r': ref('a')}")
    p["r"] = Reference("a")   # as before resolution
    with pytest.raises(ParameterError, match=message) as info:
        apply_overrides(p, [override])
    assert repr(override) in str(info.value)


def test_override_with_code_runs_nothing(tmp_path, no_code):
    marker = tmp_path / "MARKER"
    path = write(tmp_path / "run.param", "{'a': 1}")
    with pytest.raises(ParameterError):
        load_parameters(path, [f"a=__import__('os').system('touch {marker}')"])
    assert not marker.exists()


def test_parse_override_and_value():
    assert parse_override(" a.b = 5 ") == ("a.b", 5)
    assert parse_override("a=b=c") == ("a", "b=c")
    assert parse_value("dask") == "dask" and parse_value("  1.5 ") == 1.5
    assert parse_value("inf") == "inf" and parse_value("float('inf')") == math.inf
    assert parse_value("2024-01-01") == "2024-01-01"
    assert parse_value("(1, 'a')") == (1, "a")
    with pytest.raises(ParameterError, match="only allowed as the value of a key"):
        parse_value("ParameterRange([1])")           # constructors only for overrides
    with pytest.raises(TypeError):
        apply_overrides(ParameterSet({}), "a=1")     # one string, not a sequence


_WORD = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-/:]{0,12}", fullmatch=True).filter(
    lambda w: w not in ("True", "False", "None", "true", "false", "pi"))


@given(_WORD)
def test_bare_words_are_strings(word):
    assert parse_override(f"k={word}") == ("k", word)


# --- dump and round trips -------------------------------------------------------------------------

SAMPLE = {
    "store": {"root_directory": "lab-store", "backend": None},
    "query": [{"class": "StreamQuery", "params": {"stream_names": ["score"]}}],
    "analyses": {"psth": {"class": "X", "params": {"bin_ms": ParameterRange([1, 2.5, 5]),
                                                    "kinds": ParameterRange([{"k": "box"}, {"k": "gauss"}]),
                                                    "on": True, "big": 2**70, "tiny": -1e-300,
                                                    "inf": math.inf, "text": "quote ' \" \\ \n\t é 漢 \u2028"}}},
    "empty": {},
    "list_of_lists": [[1, [2, [3]]], []],
}


@pytest.mark.parametrize("suffix", [".param", ".json", ".yaml", ".yml", ""])
def test_dump_round_trip(tmp_path, suffix, no_code):
    path = dump_parameters(SAMPLE, tmp_path / f"out{suffix}")
    assert load_parameters(path) == SAMPLE


def test_dump_keeps_tuples_in_the_parameters_format_only(tmp_path):
    p = {"t": (1, (2,), ())}
    assert load_parameters(dump_parameters(p, tmp_path / "t.param")) == p
    assert load_parameters(dump_parameters(p, tmp_path / "t.json")) == {"t": [1, [2], []]}


def test_dump_nan_and_numpy(tmp_path):
    p = {"nan": math.nan, "np": {"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True)}}
    for suffix in (".param", ".json", ".yaml"):
        back = load_parameters(dump_parameters(p, tmp_path / f"n{suffix}"))
        assert math.isnan(back.nan)
        assert back.np == {"i": 3, "f": 0.5, "b": True}
        assert type(back.np.i) is int and type(back.np.b) is bool


def test_dump_writes_unresolved_references(tmp_path):
    p = ParameterSet({"a": 1, "b": Reference("a")})
    for suffix in (".param", ".json", ".yaml"):
        path = dump_parameters(p, tmp_path / f"r{suffix}")
        assert "ref('a')" in path.read_text() or '"$ref": "a"' in path.read_text() or "$ref: a" in path.read_text()
        assert load_parameters(path) == {"a": 1, "b": 1}


@pytest.mark.parametrize("params,message", [
    ({"a": object()}, "a: a object is not a parameter value"),
    ({"a": {"b": [1, {2}]}}, r"a.b\[1\]: a set"),
    ({"a": {"x.y": 1}}, "contains '.'"),
    ({"names": 1}, "'names' is not allowed"),
    ({1: 1}, "is not a string"),
    ({"a": [ParameterRange([1])]}, "only allowed as the value of a key"),
    ({"a": {"$ref": "b"}}, "reserved"),
    ({"a": 1j}, "complex"),
])
def test_dump_refuses_what_it_cannot_write(tmp_path, params, message):
    for suffix in (".param", ".json", ".yaml"):
        with pytest.raises(ParameterError, match=message):
            dump_parameters(params, tmp_path / f"bad{suffix}")
        assert not (tmp_path / f"bad{suffix}").exists()


def test_the_parameters_package_reads_what_we_write(tmp_path):
    path = dump_parameters(SAMPLE, tmp_path / "interop.param")
    theirs = parameters.ParameterSet(str(path))   # evals -- acceptable on our own safe output
    assert theirs == SAMPLE
    assert isinstance(theirs["analyses"]["psth"]["params"]["bin_ms"], ParameterRange)


def test_we_read_what_the_parameters_package_writes(tmp_path):
    theirs = ParameterSet({"a": {"b": 1, "c": "text", "d": [1, 2.5]}, "r": ParameterRange([1, 2]), "t": True})
    path = tmp_path / "theirs.param"
    theirs.save(str(path))
    assert load_parameters(path) == theirs


# --- hypothesis ------------------------------------------------------------------------------------

_RESERVED = {"$ref", "$sweep", "$include"}
_text = st.text(max_size=12)
_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text)
# inside lists, dicts are plain data and may have any string keys
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_text.filter(lambda k: k not in _RESERVED), inner, max_size=3),
                     max_leaves=12)
_tree_key = st.text(min_size=1, max_size=8).filter(lambda k: "." not in k and k not in {"parameters", "names"}
                                                    and k not in _RESERVED)
_leaf = _scalars | st.lists(_data, max_size=4)
# a swept dict becomes a parameter set when the sweep is expanded: parameter names as keys
_swept = _leaf | st.dictionaries(_tree_key, _leaf, max_size=3)
_range = st.lists(_swept, min_size=1, max_size=3).map(ParameterRange)
_tree = st.recursive(st.dictionaries(_tree_key, _leaf | _range, max_size=4),
                     lambda inner: st.dictionaries(_tree_key, inner | _leaf | _range, max_size=4),
                     max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=_tree, fmt=st.sampled_from(["param", "json", "yaml"]))
def test_round_trip_property(params, fmt):
    text = format_parameters(params, fmt)
    assert parse_parameters(text, format=fmt) == params


@settings(max_examples=100, deadline=None)
@given(_data | st.tuples(_scalars, _scalars))
def test_values_round_trip(value):
    from cldata.batch.paramfile.writer import literal as _literal

    assert parse_value(_literal(value, "k")) == value


@settings(max_examples=100, deadline=None)
@given(_swept | _range)
def test_override_values_round_trip(value):
    from cldata.batch.paramfile.writer import literal as _literal

    if isinstance(value, ParameterRange):
        text = "ParameterRange([" + ", ".join(_literal(v, "k") for v in value._values) + "])"
    else:
        text = _literal(value, "k")
    key, parsed = parse_override("k=" + text)
    assert key == "k" and parsed == value
    if isinstance(value, dict):
        assert isinstance(parsed, ParameterSet)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["param", "json", "yaml"]))
def test_arbitrary_text_gives_a_value_or_a_parameter_error(text, fmt):
    for call in (lambda: parse_parameters(text, format=fmt), lambda: parse_value(text),
                 lambda: parse_override("k=" + text)):
        try:
            call()
        except ParameterError:
            pass


_TOKENS = st.sampled_from(["{", "}", "[", "]", "(", ")", ",", ":", "'a'", "'b.c'", "1", "-", "2.5", "ref", "url",
                           "ParameterRange", "ParameterSet", "float", "pi", "None", "__import__", ".", "**",
                           "lambda", "for", "x", "'inf'", "\n", "#c\n", "$ref", '"$sweep"'])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=30).map(" ".join))
def test_token_soup_gives_a_value_or_a_parameter_error(text):
    try:
        parse_parameters(text)
    except ParameterError:
        pass
