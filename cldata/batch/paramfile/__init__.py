"""Parameter files, read as data: never imported, evaluated or executed.

A batch run is described by a parameter file (see :mod:`cldata.batch.runner`). Three
formats are read, chosen by the file's suffix:

``.json``
    JSON. A sweep is written ``{"$sweep": [v1, v2, ...]}``, a reference to another
    parameter ``{"$ref": "dotted.path"}`` and an included file ``{"$include": "other.json"}``
    (each the only key of its object). ``NaN``, ``Infinity`` and ``-Infinity`` are
    accepted, as Python's :mod:`json` writes them.
``.yaml`` / ``.yml``
    YAML (the safe subset: mappings, sequences, strings, numbers, booleans, null;
    anchors, aliases and ``<<`` merge keys). Sweeps, references and includes are spelled
    as in JSON (``$sweep: [1, 2, 5]``). Any other tag (``!!python/...``, ``!!binary``,
    timestamps, custom tags) is refused.
anything else (``.param``, ``.par``, ``.txt``, no suffix)
    The NeuralEnsemble ``parameters`` text format: a Python dict literal, as
    ``parameters.ParameterSet`` reads it, with comments::

        {
            "store": {"root_directory": "lab-store"},     # opened as the only writer
            "analyses": {
                "psth": {"class": "StimulusTriggeredHistogram",
                         "params": {"bin_ms": ParameterRange([1, 2, 5]),   # 3 runs
                                    "window_ms": ref("defaults.window_ms")}},
            },
            "defaults": {"window_ms": 50.0},
        }

The ``parameters`` package reads that format with ``eval``, so a file can run any code.
Here it is parsed with :func:`ast.parse` and the syntax tree is walked against an
allow-list, building every value directly; nothing from the file is evaluated. Allowed:

* literals: strings (not f-strings, not bytes), ints, floats, ``True``, ``False``,
  ``None``, lists, tuples, dicts with string keys; a unary ``-`` or ``+`` on a number;
* the names ``true``, ``false`` (JSON spellings) and ``pi``, which the ``parameters``
  package also defines;
* ``ref('dotted.path')`` -- the value of another parameter (resolved after loading, so
  command-line overrides propagate; a reference to a sweep copies the sweep);
* ``ParameterRange([v1, v2, ...])`` -- a sweep axis (see :mod:`cldata.batch.sweep`);
* ``url('relative/file.param')`` (or ``ParameterSet('relative/file.param')``) -- the
  parameter set in another local file, of any of the three formats, relative to the
  including file and inside the top file's directory; absolute paths, ``..`` escapes and
  URLs with a scheme (``http:``, ``file:``) are refused;
* ``ParameterSet({...})`` -- the same as the dict; ``ParameterTable('''...''')`` -- a
  table string read as nested dicts of floats;
* ``float('inf')``, ``float('-inf')``, ``float('nan')`` (and ``float`` of any number
  string), so that every float can be written to a file and read back.

Everything else is refused with a :class:`~cldata.errors.ParameterError` naming the file,
line and column and what was refused: other names and calls (``__import__``, ``open``,
...), attribute access, subscripts, operators (``**`` included, so ``10**10**10`` is
refused, not computed), comparisons, lambdas, comprehensions, f-strings, set literals,
``**`` unpacking, the random distributions ``GammaDist`` / ``NormalDist`` /
``UniformDist`` (an analysis needs fixed values; use a ``ParameterRange``), keyword
arguments of ``ParameterRange`` (``shuffle=True`` would make runs non-deterministic),
and lazy arithmetic on references (``ref('a') * 2``).

Keys of nested parameter sets must be non-empty strings without ``.`` and not
``parameters`` or ``names`` (``ParameterSet`` refuses those). Duplicate keys are refused
(Python and PyYAML would silently keep the last). A one-key dict ``{"$ref": ...}``,
``{"$sweep": ...}`` or ``{"$include": ...}`` is that construct in every format; other
``$`` keys (the query predicates ``$range``, ``$quantity``, ...) are ordinary data.
Files are limited to :data:`MAX_FILE_BYTES`, nesting to :data:`MAX_DEPTH` levels and the
number of values to :data:`MAX_VALUES` (YAML aliases count every time they are used), so
hostile input is refused quickly instead of exhausting memory or the stack.

The package: :mod:`.nodes` (the parsed form, locations, limits), one reader per format
(:mod:`.text_format`, :mod:`.json_format`, :mod:`.yaml_format`), :mod:`.builder` (nodes to
ParameterSets, included files), :mod:`.references` (``ref()`` resolution), :mod:`.overrides`
(``--set key=value``), :mod:`.reading` (the two entry points) and :mod:`.writer`.

Examples
--------
>>> params = parse_parameters("{'a': {'b': 1}, 'c': ref('a.b'), 'd': ParameterRange([1, 2])}")
>>> params["c"], params.a.b, params["d"]
(1, 1, ParameterRange([1, 2]))
>>> parse_parameters("{'a': __import__('os').system('echo hi')}")
Traceback (most recent call last):
...
cldata.errors.ParameterError: <string>:1:7: call of "__import__('os').system" is not allowed
>>> apply_overrides(parse_parameters("{'executor': {'kind': 'processes'}}"), ["executor.kind=dask"])
{'executor': {'kind': 'dask'}}
>>> parse_value("[1, 2]"), parse_value("5"), parse_value("dask")
([1, 2], 5, 'dask')
"""

from cldata.batch.paramfile.builder import file_format
from cldata.batch.paramfile.nodes import MAX_DEPTH, MAX_FILE_BYTES, MAX_INCLUDE_DEPTH, MAX_VALUES
from cldata.batch.paramfile.overrides import apply_overrides, parse_override, parse_value
from cldata.batch.paramfile.reading import load_parameters, parse_parameters
from cldata.batch.paramfile.references import Reference, copy_parameters, resolve_references
from cldata.batch.paramfile.writer import dump_parameters, format_parameters

__all__ = [
    "load_parameters",
    "parse_parameters",
    "parse_value",
    "parse_override",
    "apply_overrides",
    "resolve_references",
    "dump_parameters",
    "format_parameters",
    "copy_parameters",
    "Reference",
    "file_format",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "MAX_INCLUDE_DEPTH",
]
