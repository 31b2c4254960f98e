"""Sizes as people write them (cldata.core.sizes.parse_size): what ``--split 1GB`` takes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cldata.core.sizes import parse_size
from cldata.errors import ParameterError

UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
         "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "": 1, "G": 1000**3}


@given(number=st.integers(1, 10**6), unit=st.sampled_from(sorted(UNITS)), space=st.sampled_from(["", " "]),
       upper=st.booleans())
def test_a_number_and_a_unit_are_that_many_bytes(number, unit, space, upper):
    text = f"{number}{space}{unit.upper() if upper else unit}"
    assert parse_size(text) == number * UNITS[unit]


def test_fractions_exponents_and_plain_integers():
    assert parse_size("1.5GiB") == 3 * 2**29
    assert parse_size("2e9") == 2_000_000_000
    assert parse_size(" 750 mb ") == 750_000_000
    assert parse_size(4096) == 4096


@pytest.mark.parametrize(("size", "message"), [
    ("", "not a size"), ("GB", "not a size"), ("1 2GB", "not a size"), ("-1GB", "not a size"),
    ("1 XB", "unknown unit 'XB'"), ("0", "not a positive size"), ("0.1B", "not a positive size"),
    (0, "not a positive size"), (-5, "not a positive size"), (True, "not a size"), ("1e999GB", "not a positive size")])
def test_what_is_not_a_size_is_refused_with_the_setting_named(size, message):
    with pytest.raises(ParameterError, match=message) as caught:
        parse_size(size, what="--split")
    assert str(caught.value).startswith("--split")
