"""The view options of ``cldata query``, as text: parsed once, applied to a store view, shared by the CLI and the viewer.

The model
---------
A selection of a store is written as view options: ``--filter KEY=VALUE`` (parameter
conditions, all must hold), ``--streams NAME ...`` (data streams, globs allowed), ``--tag T``
(results with this tag), ``--between START STOP`` (a time window) and ``--chain FILE`` (a
query chain from a parameter file). They are parsed and checked into a :class:`ViewOptions`
before any store is opened, then applied as the view's chain methods in that order
(:func:`apply_view_options`: ``filter``, ``streams``, ``tagged``, ``between``, ``query``).

Two front ends share this one implementation: the command line (``cldata query`` and
``cldata export``; argparse collects the option values and :func:`view_options` checks
them) and the store viewer's query box, which takes the text a user would type after
``cldata query STORE`` (:func:`parse_query`): options as above, and bare ``KEY=VALUE``
assignments, which mean ``--filter KEY=VALUE``.

Values are read by the parameter-file parser as safe literals (``session=2`` is a number,
``culture=C7`` a string, ``"session=[1, 2]"`` a list: any of them); nothing typed is
evaluated. A time bound is frames (``25000``), a time (``1s``, ``100ms``) or ``none``.
What cannot mean anything is a :class:`~cldata.errors.ParameterError` whose message names
the option as it was typed. This module lives in ``batch`` because values and chains are
read by the parameter-file parser (:mod:`cldata.batch.paramfile`).

Examples
--------
>>> options = parse_query("culture=C7 --tag final --between 0 1s")
>>> options.filter, options.tags, options.between
({'culture': 'C7'}, ('final',), (0, array(1.) * s))
>>> time_value("25000"), time_value("none")
(25000, None)
>>> apply_view_options(store, options)          # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import quantities as pq

from cldata.core.paramsets import plain_value
from cldata.errors import ParameterError

__all__ = ["ViewOptions", "view_options", "parse_query", "apply_view_options", "parse_assignments",
           "time_value", "read_chain", "OPTIONS"]

#: the options of a query, as typed; each takes one value, except ``--streams`` (one or more)
#: and ``--between`` (two)
OPTIONS = ("--filter", "--streams", "--tag", "--between", "--chain")

_CHAIN_EXAMPLE = "{'query': [{'class': 'ParamFilterQuery', 'params': {'params': {'culture': 'C7'}}}]}"


@dataclass(frozen=True)
class ViewOptions:
    """A parsed and checked selection: what :func:`apply_view_options` applies to a view.

    Attributes
    ----------
    filter : dict
        Parameter conditions (dotted names -> value; a list means any of its values).
    streams : tuple of str
        Data-stream names or globs (empty: every stream).
    tags : tuple of str
        Result tags, all required (empty: any).
    between : tuple or None
        The time window ``(start, stop)``: frames, quantities in time units, or ``None`` ends.
    chain : list or None
        The queries of a ``--chain`` file.
    """

    filter: dict[str, Any] = field(default_factory=dict)
    streams: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    between: tuple[Any, Any] | None = None
    chain: list[Any] | None = None

    @property
    def is_everything(self) -> bool:
        """Whether these options select the whole store (nothing was asked for)."""
        return not (self.filter or self.streams or self.tags or self.between is not None or self.chain is not None)


def parse_assignments(items: Sequence[str] | None, what: str, *, lists: bool = False) -> dict[str, Any]:
    """``["a.b=1", "c=C7"]`` -> ``{"a.b": 1, "c": "C7"}``, values parsed as safe literals.

    ``what`` names the option in messages (``"--filter"``; ``""`` for bare assignments).
    ``lists``: a value with commas that is not a literal means any of its parts
    (``culture=C1,C2`` -> ``["C1", "C2"]``), as ``--filter`` documents.

    Raises
    ------
    cldata.errors.ParameterError
        An item that is not ``KEY=VALUE``, or a value that starts like a literal and is not one.

    Examples
    --------
    >>> parse_assignments(["culture=C1,C2", "session.day=2"], "--filter", lists=True)
    {'culture': ['C1', 'C2'], 'session.day': 2}
    """
    # why: deferred, the parameter-file parsers take 0.6 s to import; `cldata --help` needs none
    from cldata.batch.paramfile.overrides import parse_value

    prefix = f"{what} " if what else ""
    out: dict[str, Any] = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ParameterError(f"{prefix}{item!r} is not KEY=VALUE (e.g. {prefix}culture=C7)")
        source = f"{prefix}{item!r}"
        if lists and "," in text and not text.strip().startswith(("[", "(", "{", "'", '"')):
            parts = [p.strip() for p in text.split(",")]
            if not all(parts):
                raise ParameterError(f"{source}: an empty value between commas (write {prefix}{key}=A,B for A or B)")
            value: Any = [parse_value(p, source=source) for p in parts]
        else:
            value = parse_value(text, source=source)
            if lists and isinstance(value, tuple):
                value = list(value)  # 1,2 parses as a tuple: any of them, as a list means
        out[key.strip()] = value
    return out


_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}


def time_value(text: str) -> Any:
    """A ``--between`` bound: frames (``25000``), a time (``1s``, ``0.5 s``, ``100ms``), or
    ``none`` for an open end.

    Examples
    --------
    >>> time_value("100ms")
    array(0.1) * s
    """
    stripped = text.strip().lower()
    if stripped in ("none", "-", ""):
        return None
    if re.fullmatch(r"[+]?\d+", stripped):
        return int(stripped)
    match = re.fullmatch(r"([+]?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\s*(s|ms|us|min)", stripped)
    if match:
        return float(match.group(1)) * _TIME_UNITS[match.group(2)] * pq.s
    raise ParameterError(f"--between {text!r}: a bound is a frame count (25000), a time (1s, 0.5s, 100ms, 2min) "
                         "or none (an open end), e.g. --between 0 1s")


def read_chain(path: str | Path) -> list[Any]:
    """The ``query`` entry of a ``--chain`` parameter file: a list of queries (read as data).

    Raises
    ------
    cldata.errors.ParameterError
        The file has no ``query`` entry, or it is not a list.
    """
    # why: deferred, the parameter-file parsers take 0.6 s to import; `cldata --help` needs none
    from cldata.batch.paramfile import load_parameters

    path = Path(path)
    chain = load_parameters(path)
    if not hasattr(chain, "keys") or "query" not in chain:
        keys = ", ".join(map(repr, chain.keys())) if hasattr(chain, "keys") else ""
        raise ParameterError(f"{path} has no 'query' entry (it has {keys or 'none'}): --chain takes a parameter "
                             f"file whose 'query' is a list of queries, e.g. {_CHAIN_EXAMPLE}")
    queries = chain["query"]
    if isinstance(queries, (str, bytes)) or not isinstance(queries, Sequence):
        raise ParameterError(f"the 'query' entry of {path} is {type(queries).__name__}, not a list of queries: "
                             f"e.g. {_CHAIN_EXAMPLE}")
    return [plain_value(q) for q in queries]


def view_options(*, filter: Iterable[str] | None = None, streams: Iterable[str] | None = None,  # noqa: A002
                 tags: Iterable[str] | None = None, between: Sequence[str] | None = None,
                 chain: str | Path | None = None) -> ViewOptions:
    """The view options as typed (each option's strings), parsed and checked.

    Examples
    --------
    >>> view_options(filter=["culture=C7"], between=["0", "none"])
    ViewOptions(filter={'culture': 'C7'}, streams=(), tags=(), between=(0, None), chain=None)
    """
    if between is not None and len(between) != 2:
        raise ParameterError(f"--between takes two bounds, START and STOP (got {len(between)}), e.g. --between 0 1s")
    return ViewOptions(
        filter=parse_assignments(list(filter or ()), "--filter", lists=True),
        streams=tuple(streams or ()), tags=tuple(tags or ()),
        between=tuple(time_value(x) for x in between) if between else None,  # type: ignore[arg-type]
        chain=read_chain(chain) if chain else None)


def _split(text: str) -> list[str]:
    """The box's text as shell words (quotes group, as in a terminal)."""
    try:
        return shlex.split(text)
    except ValueError as exc:  # "No closing quotation"
        raise ParameterError(f"{text!r}: {str(exc).lower()} (quote a value with spaces as in a shell: "
                             "\"session=[1, 2]\")") from None


def _option(word: str) -> str:
    """``word`` (``--tag``, ``--tags``, ``-filter``) as one of :data:`OPTIONS`, or a ParameterError."""
    if word in OPTIONS:
        return word
    close = difflib.get_close_matches(word, OPTIONS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ParameterError(f"{word} is not an option of a query: {hint}the options are {', '.join(OPTIONS)}, "
                         "and a bare KEY=VALUE is a --filter")


def _values(words: list[str], i: int, option: str) -> tuple[list[str], int]:
    """The values of ``option`` at ``words[i]``; the index after them."""
    n = {"--streams": None, "--between": 2}.get(option, 1)
    if n is None:  # one or more stream names, up to the next option or assignment
        j = i
        while j < len(words) and not words[j].startswith("--") and "=" not in words[j]:
            j += 1
        if j == i:
            raise ParameterError("--streams needs at least one stream name (globs allowed), e.g. --streams score")
        return words[i:j], j
    got = words[i:i + n]
    if len(got) < n or any(w.startswith("--") for w in got):
        example = {"--between": "--between 0 1s", "--filter": "--filter culture=C7", "--tag": "--tag final",
                   "--chain": "--chain chain.param"}[option]
        need = "two bounds, START and STOP" if n == 2 else "a value"
        raise ParameterError(f"{option} needs {need}, e.g. {example}")
    return got, i + n


def parse_query(text: str, *, chain_files: bool = True) -> ViewOptions:
    """The text typed after ``cldata query STORE``, parsed into :class:`ViewOptions`.

    The text is split into words as a shell does (quote values with spaces: ``"session=[1, 2]"``).
    A bare ``KEY=VALUE`` is a ``--filter``; ``--opt=value`` is ``--opt value``; ``--streams``
    takes names up to the next option or assignment; ``--filter`` and ``--tag`` repeat.

    Parameters
    ----------
    text : str
        E.g. ``"culture=A session=2"`` or ``"--filter culture=A --tag good --between 0 1.5s"``.
    chain_files : bool
        Whether ``--chain FILE`` may read a parameter file (a box served to a browser says no:
        it would read files of the server's machine).

    Raises
    ------
    cldata.errors.ParameterError
        What cannot mean anything, in the words typed.

    Examples
    --------
    >>> parse_query("culture=C1,C2 --streams score").filter
    {'culture': ['C1', 'C2']}
    """
    words = _split(text)
    found: dict[str, list[str]] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-"):
            if "=" not in word:
                raise ParameterError(f"{word!r} is neither KEY=VALUE (a filter, e.g. culture=C7) nor an option "
                                     f"({', '.join(OPTIONS)}); quote a value with spaces: \"session=[1, 2]\"")
            found.setdefault("", []).append(word)  # a bare assignment: a --filter, named as typed
            i += 1
            continue
        name, eq, inline = word.partition("=")
        option = _option(name)
        if eq:  # --tag=final
            words[i:i + 1] = [option, inline]
        values, i = _values(words, i + 1, option)
        if option in ("--between", "--chain") and option in found:
            raise ParameterError(f"{option} is given twice; a query has one {option[2:]}")
        found.setdefault(option, []).extend(values)
    if "--chain" in found and not chain_files:
        raise ParameterError("--chain reads a parameter file, which this query box does not do; use --filter, "
                             "--streams, --tag and --between here, or run `cldata query STORE --chain FILE`")
    chain = found.get("--chain", [None])[0]
    if chain is not None and not Path(chain).exists():
        raise ParameterError(f"--chain {chain}: no such file (expected a parameter file with a 'query' entry)")
    options = view_options(filter=found.get("--filter"), streams=found.get("--streams"), tags=found.get("--tag"),
                           between=found.get("--between"), chain=chain)
    if "" not in found:
        return options
    bare = parse_assignments(found[""], "", lists=True)
    return replace(options, filter={**bare, **options.filter})


def apply_view_options(view: Any, options: ViewOptions) -> Any:
    """``view`` narrowed by ``options``: its ``filter``, ``streams``, ``tagged``, ``between`` and
    ``query`` methods, in that order. A chain that ends in a partition gives a list of views.

    Examples
    --------
    >>> apply_view_options(store, parse_query("culture=C7 --tag final"))   # doctest: +SKIP
    """
    if options.filter:
        view = view.filter(**options.filter)
    if options.streams:
        view = view.streams(list(options.streams))
    if options.tags:
        view = view.tagged(*options.tags)
    if options.between is not None:
        view = view.between(*options.between)
    if options.chain is not None:
        view = view.query(options.chain)
    return view
