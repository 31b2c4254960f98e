"""The entry codec: CL byte identity, round trips, refusals, and safe decoding."""

from __future__ import annotations

import datetime
import decimal
import pickle

import msgpack
import msgpack_numpy
import numpy as np
import pytest
import quantities as pq
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cldata
from cldata.errors import DecodeError, UnsafeContentError, UnsupportedValueError, ValueOutOfRangeError
from cldata.format.codec import decode, decode_span, encode


def cl_writer_bytes(value):
    """How the CL writer (cl-sdk 1.0.0) serialises an entry, for the values both support."""

    def numpy_values(obj):
        if isinstance(obj, np.ndarray) and obj.dtype.kind == "O":
            return obj.tolist()
        if isinstance(obj, (np.ndarray, np.generic)):
            return msgpack_numpy.encode(obj)
        return obj

    return msgpack.packb(value, default=numpy_values, use_bin_type=True)


def same(a, b) -> bool:
    """Equality that understands numpy arrays, NaN, and msgpack turning tuples into lists."""
    if isinstance(a, pq.Quantity) or isinstance(b, pq.Quantity):
        return (
            isinstance(a, pq.Quantity)
            and isinstance(b, pq.Quantity)
            and a.dimensionality == b.dimensionality
            and same(np.asarray(a.magnitude), np.asarray(b.magnitude))
        )
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, float) and isinstance(a, np.generic):
        # np.float64 is a float: msgpack (for CL too) writes it as a plain float
        return same(float(a), b)
    if isinstance(a, np.generic):
        return type(a) is type(b) and (a == b or (a != a and b != b))
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return type(a) is type(b) and a == b


numeric_dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(endianness="="),
    hnp.unsigned_integer_dtypes(endianness="="),
    hnp.floating_dtypes(endianness="="),
    hnp.complex_number_dtypes(endianness="="),
    hnp.integer_dtypes(endianness=">"),
)
arrays = numeric_dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
numpy_scalars = arrays.filter(lambda a: a.ndim == 0).map(lambda a: a[()])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    st.one_of(scalars, arrays, numpy_scalars),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_every_supported_value_round_trips(value):
    assert same(value, decode(encode(value)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_bytes_are_identical_to_the_cl_writer(value):
    assert encode(value) == cl_writer_bytes(value)


def test_fixture_entries_reencode_to_the_same_bytes(cl_fixture):
    with tables.open_file(str(cl_fixture)) as f:
        for group in f.root.data_stream:
            data = group.data[:].tobytes()
            for row in group.index[:]:
                raw = data[row["start_index"] : row["end_index"]]
                assert encode(decode(raw)) == raw


def test_int_range_is_the_full_msgpack_range():
    for v in (2**64 - 1, -(2**63), 0):
        assert decode(encode(v)) == v
    with pytest.raises(ValueOutOfRangeError, match="2\\*\\*64-1"):
        encode(2**64)
    with pytest.raises(ValueOutOfRangeError):
        encode({"deep": [-(2**63) - 1]})
    assert isinstance(ValueOutOfRangeError("x"), ValueError)


@pytest.mark.parametrize(
    "value, name",
    [
        (object(), "object"),
        ({1, 2}, "set"),
        (datetime.datetime(2026, 1, 1), "datetime.datetime"),
        (decimal.Decimal("1.5"), "decimal.Decimal"),
        ({"nested": [frozenset()]}, "frozenset"),
        (np.datetime64("2026-01-01"), "numpy.datetime64"),
    ],
)
def test_unsupported_types_raise_a_type_error_naming_the_type(value, name):
    with pytest.raises(UnsupportedValueError, match=name) as info:
        encode(value)
    assert isinstance(info.value, TypeError)


def test_tuples_encode_as_lists_and_tuple_dict_keys_come_back():
    assert decode(encode((1, (2, 3)))) == [1, [2, 3]]
    assert decode(encode({(1, 2): "pair", 3: "int"})) == {(1, 2): "pair", 3: "int"}


def test_object_arrays_are_written_as_lists_never_pickled():
    raw = encode(np.array([1, "a", None], dtype=object))
    assert raw == encode([1, "a", None])
    assert b"pickle" not in raw


@pytest.mark.parametrize(
    "q",
    [3.0 * pq.mV, np.arange(4.0) * pq.uV, 2 * pq.mV / pq.s**2, np.ones(3) * pq.dimensionless, 25 * pq.kHz],
)
def test_quantities_round_trip_with_units(q):
    back = decode(encode(q))
    assert same(q, back)
    # the CL reader (msgpack_numpy.decode) sees the plain magnitude array
    plain = msgpack.unpackb(encode(q), object_hook=msgpack_numpy.decode, raw=False)
    assert np.array_equal(np.asarray(plain), np.asarray(q.magnitude))


def test_a_pickled_object_array_in_a_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = msgpack.packb(
        {b"nd": True, b"type": "|O", b"kind": b"O", b"shape": [1], b"data": pickle.dumps(Payload())},
        use_bin_type=True,
    )
    with pytest.raises(UnsafeContentError, match="pickle"):
        decode(crafted)
    assert not marker.exists()


@pytest.mark.parametrize("dtype", ["O", "|O", "i4,O", [["a", "<i4"], ["b", "|O"]]])
def test_object_dtypes_in_array_entries_are_refused(dtype):
    crafted = msgpack.packb(
        {b"nd": True, b"type": dtype, b"kind": b"", b"shape": [1], b"data": b"\x00" * 16},
        use_bin_type=True,
    )
    with pytest.raises(UnsafeContentError):
        decode(crafted)


@pytest.mark.parametrize(
    "raw",
    [
        encode({"x": 1.5})[:-3],  # truncated
        encode(1) + b"\x01",  # trailing bytes
        msgpack.packb({b"nd": True, b"type": "<i4", b"kind": b"", b"shape": [3], b"data": b"\x00" * 5}, use_bin_type=True),
        msgpack.packb({b"nd": True, b"type": "<i4", b"kind": b"", b"shape": [-1], b"data": b""}, use_bin_type=True),
        msgpack.packb({b"nd": True, b"type": "not-a-dtype", b"kind": b"", b"shape": [1], b"data": b"\x00"}, use_bin_type=True),
        msgpack.packb({b"nd": False, b"type": "<f8", b"data": b"\x00"}, use_bin_type=True),
        b"\xc1",  # the one byte msgpack never uses
        b"\xdd\xff\xff\xff\xff",  # an array header claiming 4 billion items
        msgpack.packb(msgpack.ExtType(5, b"xyz")),
        b"",
    ],
)
def test_malformed_entries_raise_decode_error(raw):
    with pytest.raises(DecodeError):
        decode(raw)


def test_decode_span_reads_entries_end_to_end_and_checks_the_count():
    raw = b"".join(encode(v) for v in [1, {"a": np.arange(3)}, "three"])
    out = decode_span(raw, 3)
    assert out[0] == 1 and np.array_equal(out[1]["a"], np.arange(3)) and out[2] == "three"
    with pytest.raises(DecodeError):
        decode_span(raw, 4)
    with pytest.raises(DecodeError):
        decode_span(raw, 2)


def test_a_dict_with_bytes_keys_that_is_not_a_numpy_payload_stays_a_dict():
    value = {b"nd": 1, b"other": 2}
    assert decode(encode(value)) == value


def test_encode_is_reexported_at_top_level():
    assert cldata.encode is encode and cldata.decode is decode


def test_units_keep_their_name_after_crossing_a_process_boundary():
    """Once: a quantity unpickled from a worker process (its unit an equal copy, not the same
    object) was stored in base SI units (5 ms became 0.005 s)."""
    q = pickle.loads(pickle.dumps(np.arange(3) * 5 * pq.ms))
    back = decode(encode(q))
    assert back.dimensionality.string == "ms"
    np.testing.assert_array_equal(back.magnitude, [0, 5, 10])
    custom = pq.UnitQuantity("cldata_test_furlong", 201.168 * pq.m, symbol="cfur")
    stored = decode(encode(2 * custom))
    assert stored.dimensionality.string == "m" and float(stored.magnitude) == pytest.approx(402.336)


def test_units_read_many_times_are_independent_and_malformed_ones_still_refused():
    """Decoded units are cached by their encoded form (quantities parses every unit name):
    changing the units of one decoded quantity leaves the next ones alone, and units that
    only look like cached ones (a map instead of a [name, power] pair) are still refused."""
    import msgpack

    from cldata.format.codec import decode, encode

    first = decode(encode(np.array([1.0, 2.0]) * pq.ms))
    first.units = pq.s
    again = decode(encode(np.array([1.0, 2.0]) * pq.ms))
    assert str(again.dimensionality) == "ms" and again.magnitude.tolist() == [1.0, 2.0]
    assert str(decode(encode(np.array([1.0]) * pq.ms ** 2)).dimensionality) == "ms**2"
    good = msgpack.unpackb(encode(np.array([1.0]) * pq.ms), raw=False)
    good[b"units"] = [{"ms": 1, 1: 2}]
    with pytest.raises(DecodeError, match="malformed units"):
        decode(msgpack.packb(good, use_bin_type=True))
