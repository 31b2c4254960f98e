"""The conformance suite catches a backend that runs code from a stranger's store.

A backend that stores its catalog and payloads with plain ``pickle`` passes every
round-trip test of :class:`cldata.testing.BackendTests`; the stranger tests must fail
it, because ``pickle.loads`` on a stranger's file runs whatever the file asks for.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from cldata.backends import SegmentedBackend, registry
from cldata.testing import BackendTests


class PlainPickleBackend(SegmentedBackend):
    """What not to write: a catalog and payloads loaded with plain pickle."""

    name = "plain-pickle"
    segment_suffix, payload_suffix = ".pkl", ".pkls"

    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        path.write_bytes(pickle.dumps(records))

    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        return pickle.loads(path.read_bytes())  # noqa: S301 - the unsafe backend under test

    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        return pickle.dumps(payload)

    def decode_payload(self, data: bytes) -> dict[str, Any]:
        return pickle.loads(data)  # noqa: S301 - the unsafe backend under test


class _PlainPickleSuite(BackendTests):
    __test__ = False  # run by hand below: these tests are expected to fail
    backend_name = "plain-pickle"


@pytest.fixture
def suite():
    registry.register_backend("plain-pickle", PlainPickleBackend, replace=True)
    tests = _PlainPickleSuite()
    tests._stores = []
    yield tests
    for store in tests._stores:
        if not store.closed:
            store.close(commit=False)
    registry.BACKENDS.unregister("plain-pickle")


def test_a_plain_pickle_backend_round_trips(suite, tmp_path):
    # it is a working backend: the suite's ordinary tests pass on it...
    (tmp_path / "sources").mkdir()
    suite.test_results_round_trip(tmp_path / "store", tmp_path / "sources")


@pytest.mark.parametrize("test, arguments", [("test_a_stranger_catalog_segment_runs_nothing", {}),
                                             ("test_a_stranger_payload_runs_nothing", {"catalog": "sqlite"}),
                                             ("test_a_stranger_payload_runs_nothing", {"catalog": "backend"})],
                         ids=["segment", "payload-sqlite", "payload-backend"])
def test_a_plain_pickle_backend_fails_the_stranger_tests(suite, tmp_path, test, arguments):
    # ...and the stranger tests fail it, having seen the code run
    with pytest.raises(AssertionError, match="ran code from it"):
        getattr(suite, test)(tmp_path, **arguments)
    assert (tmp_path / "ran-code").is_dir()


def test_the_file_test_applies_to_every_backend(suite, tmp_path):
    # replacing CURRENT stops a segmented backend before its decoder: this one passes it
    suite.test_a_stranger_store_of_hostile_files_runs_nothing(tmp_path)
    assert not (tmp_path / "ran-code").exists()
