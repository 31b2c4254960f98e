"""Reading a parameter set: from text (:func:`parse_parameters`) or a file (:func:`load_parameters`).

Both take the same steps: the reader chosen by format gives a node tree, the
:class:`~.builder.Builder` turns it into a ParameterSet (reading included files),
command-line overrides are applied, and references are resolved. Nothing in the text is
executed (see :mod:`cldata.batch.paramfile` for what a file may contain).

Examples
--------
>>> parse_parameters("{'a': {'b': 1}, 'c': ref('a.b')}")
{'a': {'b': 1}, 'c': 1}
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from parameters import ParameterSet

from cldata.batch.paramfile.builder import Builder, parse_text
from cldata.batch.paramfile.nodes import MAX_FILE_BYTES, Budget, error
from cldata.batch.paramfile.overrides import apply_overrides
from cldata.batch.paramfile.references import resolve_references

__all__ = ["parse_parameters", "load_parameters"]


def parse_parameters(text: str, source: str = "<string>", *, format: str = "param",
                     overrides: Iterable[str] = (), base_dir: str | os.PathLike[str] | None = None) -> ParameterSet:
    """Read a parameter set from text, without executing anything in it.

    Parameters
    ----------
    text : str
        The content of a parameter file.
    source : str
        Named in error messages (a file name, or ``"<string>"``).
    format : {"param", "json", "yaml"}
        ``"param"`` is the NeuralEnsemble ``parameters`` text format (module doc).
    overrides : iterable of str
        ``"dotted.key=value"`` assignments applied before references are resolved (see
        :func:`apply_overrides`).
    base_dir : path, optional
        The directory that ``url('file')`` includes are relative to (and confined to);
        without it, includes are refused.

    Returns
    -------
    parameters.ParameterSet
        Nested dicts are ParameterSets; references are resolved; sweeps are
        ``ParameterRange`` objects (expand them with :func:`cldata.batch.sweep.expand_sweeps`).

    Raises
    ------
    cldata.errors.ParameterError
        For anything refused, with ``source:line:column`` at the start of the message.

    Examples
    --------
    >>> p = parse_parameters('''
    ... {   # a comment
    ...     "rate": {"bin_ms": 5, "window": (0, 2.5)},
    ...     "same": ref("rate.bin_ms"),
    ... }''')
    >>> p.rate.bin_ms, p.rate.window, p.same
    (5, (0, 2.5), 5)
    >>> parse_parameters('{"a": {"$sweep": [1, 2]}, "b": {"$ref": "a"}}', format="json")
    {'a': ParameterRange([1, 2]), 'b': ParameterRange([1, 2])}
    >>> parse_parameters("{'a': 1,\\n 'b': open('x')}")
    Traceback (most recent call last):
    ...
    cldata.errors.ParameterError: <string>:2:7: call of 'open' is not allowed (allowed calls: ref, ParameterRange, url, ParameterSet, ParameterTable, float)
    """
    budget = Budget(source)
    builder = Builder(budget, Path(base_dir) if base_dir is not None else None)
    builder.dirs[source] = Path(base_dir) if base_dir is not None else None
    if len(text) > MAX_FILE_BYTES:
        raise error(source, f"larger than {MAX_FILE_BYTES} characters")
    node = parse_text(text, source, format, budget)
    if node is None:
        params = ParameterSet({})
    elif node.kind != "dict":
        raise error(node.where, "a parameter file must hold a dict (a parameter set) at the top")
    else:
        params = builder.build(node, True)
    apply_overrides(params, overrides)
    return resolve_references(params)


def load_parameters(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> ParameterSet:
    """Read a parameter file (``.json``, ``.yaml`` / ``.yml``, or the ``parameters`` format).

    Nothing in the file is executed (see the module doc for what the file may contain).

    Parameters
    ----------
    path : path
        The file; its suffix chooses the format.
    overrides : iterable of str
        ``"dotted.key=value"`` assignments, as ``cldata run FILE --set key=value`` gives
        them; applied before references are resolved, so ``ref``\\ s see the new values.

    Returns
    -------
    parameters.ParameterSet

    Raises
    ------
    cldata.errors.ParameterError
        The file cannot be read, or holds something refused (the message starts with
        ``file:line:column``), or an override is malformed.

    Examples
    --------
    >>> params = load_parameters("param/demo_rates.param", ["executor.kind=serial"])  # doctest: +SKIP
    >>> params.executor.kind                                                          # doctest: +SKIP
    'serial'
    """
    path = Path(path)
    source = str(path)
    budget = Budget(source)
    builder = Builder(budget, path.parent)
    builder.dirs[source] = path.parent
    builder.including.append(path.resolve())
    params = builder.parse_file(path, source, None, 0)
    apply_overrides(params, overrides)
    return resolve_references(params)
