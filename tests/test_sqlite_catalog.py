"""The SQLite catalog (issue 13): a store opens without reading its results, answers queries from
indexes on disk exactly as the in-memory catalog does, keeps readers on their snapshot, survives a
SIGKILL at every step of a commit with exactly the last commit, refuses a crafted database, and
moves a version-1 store's catalog into SQLite once, crash-safe."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.app.check import check_path
from cldata.app.cli import main as cli
from cldata.errors import BackendError, StoreFormatError
from cldata.format.simulate import simulate_recording
from cldata.model.engines import get_catalog_engine, list_catalog_engines
from cldata.model.engines.engine_catalog import EngineCatalog
from cldata.model.engines.sqlite import FILE_NAME, SQLiteEngine
from cldata.model.engines.sqlite_schema import entry_crc as _crc
from cldata.query.params import brute_force_filter
from cldata.query.predicates import Exists, Not, Range


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    paths = []
    for i in range(3):
        simulate_recording(d / f"r{i}.h5", duration_s=0.1, seed=i)
        paths.append(d / f"r{i}.h5")
    return paths


def _results(rids, n, offset=0):
    out = []
    for i in range(offset, offset + n):
        out.append(cldata.SingleValue(
            "rate" if i % 2 else "count", float(i) * pq.Hz, sources=[rids[i % len(rids)]],
            parameters={"n": i, "window_s": i % 4, "bin": {"ms": [1, 2, i % 3]}, "label": f"L{i % 5}",
                        "scale": (i % 3) * pq.ms},
            tags=["final"] if i % 3 == 0 else []))
    return out


def _store(root, sources, n=40, catalog=None):
    with cldata.open(root, mode="a", catalog=catalog) as store:
        rids = [store.add_recording(p, {"culture": f"C{i}", "day": i}) for i, p in enumerate(sources)]
        store.add_analysis_results(_results(rids, n))
    return rids


def test_a_new_store_keeps_its_catalog_in_sqlite_and_no_segment_log(tmp_path, sources):
    _store(tmp_path / "s", sources)
    marker = json.loads((tmp_path / "s" / "cldata-store.json").read_text())
    assert marker["catalog"] == "sqlite" and marker["version"] == 2
    assert (tmp_path / "s" / FILE_NAME).is_file() and not (tmp_path / "s" / "catalog").exists()
    with cldata.open(tmp_path / "s") as store:
        assert isinstance(store.catalog, EngineCatalog) and store.catalog.n_results == 40


def test_opening_reads_no_result_entry(tmp_path, sources, monkeypatch):
    _store(tmp_path / "s", sources, n=200)
    read = []
    original = SQLiteEngine.results
    monkeypatch.setattr(SQLiteEngine, "results", lambda self, gen, rows: read.append(len(rows)) or original(self, gen, rows))
    with cldata.open(tmp_path / "s") as store:
        assert read == []  # opening read the recordings only
        assert len(store.filter(label="L1", window_s=1).analysis_results) == 10
        assert sum(read) == 10  # and a query reads what it matched, not the store


CONDITIONS = [
    {"window_s": 1}, {"label": ["L1", "L2"]}, {"window_s": Range(1, 3)}, {"bin.ms": (1, 2, 0)},
    {"scale": 1 * pq.ms}, {"scale": 0.001 * pq.s}, {"culture": "C1"}, {"culture": "C2", "window_s": 2},
    {"identifier": "rate"}, {"kind": "SingleValue", "label": "L4"}, {"label": Not("L0")}, {"window_s": Exists()},
    {"day": Range(1, None)}, {"bin": {"ms": [1, 2, 2]}}, {"scale": Range(0.0015, None)},
]


@pytest.mark.parametrize("criteria", CONDITIONS, ids=[str(c) for c in CONDITIONS])
def test_queries_answer_as_a_scan_and_as_the_in_memory_catalog(tmp_path, sources, criteria):
    _store(tmp_path / "new", sources)
    _store(tmp_path / "old", sources, catalog="backend")
    with cldata.open(tmp_path / "new") as new, cldata.open(tmp_path / "old", catalog="backend") as old:
        got_new, got_old = new.filter(**criteria), old.filter(**criteria)
        assert (got_new.recording_ids, [r.id for r in got_new.analysis_results]) == brute_force_filter(new, **criteria)
        assert [r.id for r in got_new.analysis_results] == [r.id for r in got_old.analysis_results]
        assert got_new.recording_ids == got_old.recording_ids


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({"a": st.sampled_from([0, 1, 2.0, "x", None, True]),
                                       "b": st.one_of(st.integers(-3, 3), st.lists(st.integers(0, 3), max_size=3)),
                                       "c": st.dictionaries(st.sampled_from(["p", "q"]), st.integers(0, 2))}),
                min_size=1, max_size=12),
       st.sampled_from([{"a": 1}, {"a": True}, {"a": "x"}, {"a": None}, {"b": Range(-1, 2)}, {"c.p": 1},
                        {"b": [1, 2]}, {"c": {}}, {"a": [0, "x"], "c.q": 2}]))
def test_any_parameters_query_as_a_scan(tmp_path_factory, params, criteria):
    root = tmp_path_factory.mktemp("h") / "s"
    with cldata.open(root, mode="a") as store:
        store.add_analysis_results([cldata.SingleValue(f"v{i}", float(i), parameters=p) for i, p in enumerate(params)])
    with cldata.open(root) as store:
        try:
            got = [r.id for r in store.filter_results(**criteria).analysis_results]
        except cldata.errors.UnknownParameterError:
            assert not all(store.catalog.result_index.has(k.replace("__", ".")) for k in criteria)
            return
        assert got == brute_force_filter(store, **criteria)[1]


def test_readers_keep_their_snapshot_until_refresh_and_removed_entries_wait_for_them(tmp_path, sources):
    rids = _store(tmp_path / "s", sources, n=10)
    reader = cldata.open(tmp_path / "s")
    try:
        before = [r.id for r in reader.analysis_results]
        with cldata.open(tmp_path / "s", mode="a") as writer:
            writer.remove_analysis_result(before[0])
            writer.add_analysis_results(_results(rids, 2, offset=100))
            assert writer.catalog.n_results == 11  # the writer sees its own changes at once
        assert [r.id for r in reader.analysis_results] == before  # the reader, its snapshot
        assert reader.filter(window_s=0).analysis_results[0].id == before[0]
        reader.refresh()
        assert reader.catalog.n_results == 11 and before[0] not in [r.id for r in reader.analysis_results]
    finally:
        reader.close()
    with cldata.open(tmp_path / "s", mode="a"):
        pass  # no reader now: the removed row goes for good
    db = sqlite3.connect(tmp_path / "s" / FILE_NAME)
    assert db.execute("SELECT count(*) FROM results WHERE removed_gen IS NOT NULL").fetchone()[0] == 0
    db.close()


def test_rollback_and_replace_leave_exactly_what_was_committed(tmp_path, sources):
    rids = _store(tmp_path / "s", sources, n=6)
    with cldata.open(tmp_path / "s", mode="a", replace=True) as store:
        first = store.analysis_results[0]
        store.add_analysis_results(_results(rids, 3, offset=50))
        store.remove_analysis_result(first.id)
        store.rollback()
        assert store.catalog.n_results == 6 and store.analysis_results[0].id == first.id
        again = _results(rids, 1)[0]  # the same identity: replaced, moved to the end
        (new_id,) = store.add_analysis_results([again])
        assert new_id == first.id and store.analysis_results[-1].id == first.id
    with cldata.open(tmp_path / "s") as store:
        assert store.catalog.n_results == 6 and store.analysis_results[-1].id == first.id
        assert store.analysis_results[-1].value == 0 * pq.Hz


_KILLER = textwrap.dedent("""
    import os, signal, sys
    import quantities as pq
    import cldata
    from cldata.model.engines.sqlite import SQLiteEngine
    root, rid, step = sys.argv[1], sys.argv[2], sys.argv[3]
    big = [float(i) for i in range(20000)]  # a payload large enough for a payload file
    def kill():
        sys.stdout.flush(); os.kill(os.getpid(), signal.SIGKILL)
    store = cldata.open(root, mode="a")
    store.add_analysis_results([cldata.SingleValue("acked", 1.0, sources=[rid])])
    store.commit(); print("acked", flush=True)
    if step == "payloads":
        write = store.backend.write_payloads
        store.backend.write_payloads = lambda p: (write(p), kill())
    elif step == "before-commit":
        store.engine._db.set_trace_callback(lambda sql: kill() if sql == "COMMIT" else None)
    elif step == "after-commit":
        commit = SQLiteEngine.commit
        SQLiteEngine.commit = lambda self: (commit(self), kill())
    elif step == "purge":
        purge = SQLiteEngine.purge
        SQLiteEngine.purge = lambda self: (purge(self), kill())
    store.add_analysis_results([cldata.Data("lost", big, sources=[rid])])
    store.remove_analysis_result(store.analysis_results[0].id)
    store.commit()
    store.close()
""")


@pytest.mark.parametrize("step", ["payloads", "before-commit", "after-commit", "purge"])
@pytest.mark.parametrize("reader_first", [True, False], ids=["reader opens first", "writer opens first"])
def test_a_sigkill_at_every_commit_step_leaves_exactly_the_last_commit(tmp_path, sources, step, reader_first):
    root = tmp_path / "s"
    with cldata.open(root, mode="a") as store:
        rid = store.add_recording(sources[0])
    out = subprocess.run([sys.executable, "-c", _KILLER, str(root), rid, step], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert "acked" in out.stdout
    committed = step in ("after-commit", "purge")
    expected = ["lost"] if committed else ["acked"]
    for mode in (("r", "a") if reader_first else ("a", "r")):
        with cldata.open(root, mode=mode) as store:
            assert [r.identifier for r in store.analysis_results] == expected
            for r in store.analysis_results:
                r.payload()  # every payload it names is there
    report = check_path(root, repair=True)
    assert report.healthy or all(p.repaired for p in report.problems), str(report)
    assert check_path(root).healthy


def _legacy_store(root, sources, n=30):
    rids = _store(root, sources, n=n, catalog="backend")
    assert (root / "catalog" / "CURRENT").is_file() and not (root / FILE_NAME).exists()
    return rids


def _content(root, catalog=None):
    with cldata.open(root, catalog=catalog) as store:
        return ([(r.id, r.parameters) for r in store.recordings],
                [(r.id, r.identifier, r.parameters, r.tags, float(r.value.magnitude)) for r in store.analysis_results])


def test_a_version_1_store_opens_read_only_as_it_is_and_migrates_on_first_write(tmp_path, sources):
    root = tmp_path / "s"
    _legacy_store(root, sources)
    before = _content(root)
    assert not (root / FILE_NAME).exists()  # reading changed nothing
    with cldata.open(root, mode="a") as store:
        assert isinstance(store.catalog, EngineCatalog)
    marker = json.loads((root / "cldata-store.json").read_text())
    assert marker["catalog"] == "sqlite" and not (root / "catalog").exists()
    assert _content(root) == before
    assert check_path(root).healthy


def test_cldata_upgrade_migrates_once_and_says_so(tmp_path, sources, capsys):
    root = tmp_path / "s"
    _legacy_store(root, sources)
    before = _content(root)
    assert cli(["upgrade", str(root)]) == 0
    assert "catalog moved to SQLite (3 recordings, 30 results)" in capsys.readouterr().out
    assert cli(["upgrade", str(root)]) == 0
    assert "already current" in capsys.readouterr().out
    assert _content(root) == before
    assert cli(["upgrade", str(tmp_path / "nowhere")]) != 0
    assert "no such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("kill_at", ["catalog written", "marker written"])
def test_a_migration_killed_at_any_step_leaves_a_store_that_opens_with_everything(tmp_path, sources, kill_at):
    root = tmp_path / "s"
    _legacy_store(root, sources)
    before = _content(root)
    hook = {"catalog written": "cldata.model.engines.sqlite.SQLiteEngine.create",
            "marker written": "cldata.store.migration.atomic_write_bytes"}[kill_at]
    module, _, name = hook.rpartition(".")
    script = textwrap.dedent(f"""
        import os, signal, importlib, cldata
        owner = importlib.import_module({module.rsplit('.', 1)[0]!r}) if {name!r} == "create" else None
        import cldata.store.migration as store_module
        from cldata.model.engines.sqlite import SQLiteEngine
        if {name!r} == "create":
            original = SQLiteEngine.create
            SQLiteEngine.create = lambda self, records=(): (original(self, records), os.kill(os.getpid(), signal.SIGKILL))
        else:
            original = store_module.atomic_write_bytes
            store_module.atomic_write_bytes = lambda *a, **k: (original(*a, **k), os.kill(os.getpid(), signal.SIGKILL))
        cldata.open({str(root)!r}, mode="a")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert _content(root) == before  # whichever layout the kill left, everything is there
    assert cli(["upgrade", str(root)]) == 0
    assert _content(root) == before and not (root / "catalog").exists()


def _crafted(tmp_path, sources, sql):
    root = tmp_path / "s"
    _store(root, sources, n=3)
    db = sqlite3.connect(root / FILE_NAME)
    db.executescript(sql)
    # a crafter makes the checksums right (they detect damage, they are no signature): every
    # value must then still be checked for what it is
    for row, *values in db.execute("SELECT row, id, kind, identifier, parameters, sources, tags, summary, added_utc "
                                   "FROM results").fetchall():
        db.execute("UPDATE results SET crc = ? WHERE row = ?", (_crc(*values), row))
    for row, rid, record in db.execute("SELECT row, id, record FROM recordings").fetchall():
        db.execute("UPDATE recordings SET crc = ? WHERE row = ?", (_crc(rid, record), row))
    db.commit()
    db.close()
    return root


@pytest.mark.parametrize("sql, message", [
    ("CREATE TRIGGER t AFTER INSERT ON results BEGIN SELECT 1; END;", "schema this cldata did not make"),
    ("CREATE VIEW v AS SELECT * FROM results;", "schema this cldata did not make"),
    ("PRAGMA application_id = 7;", "not a cldata catalog"),
    ("PRAGMA user_version = 99;", "schema version 99"),
    ("UPDATE results SET id = '../../etc' WHERE row = 1;", "malformed result"),
    ("UPDATE results SET parameters = x'c1' WHERE row = 1;", "does not decode"),
    ("UPDATE results SET sources = '{}' WHERE row = 1;", "not lists of names"),
    ("UPDATE recordings SET record = x'00';", "does not match its row"),
    ("DELETE FROM meta;", "has no generation"),
])
def test_a_crafted_catalog_database_is_refused_with_a_store_error(tmp_path, sources, sql, message):
    root = _crafted(tmp_path, sources, sql)
    with pytest.raises(StoreFormatError, match=message):
        with cldata.open(root) as store:
            [r.parameters for r in store.analysis_results]


def test_a_catalog_that_is_not_a_database_or_is_a_link_is_refused(tmp_path, sources):
    root = tmp_path / "s"
    _store(root, sources, n=2)
    (root / FILE_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreFormatError, match="cannot be read as a catalog database"):
        cldata.open(root)
    assert not check_path(root).healthy
    (root / FILE_NAME).unlink()
    (root / FILE_NAME).symlink_to(tmp_path / "elsewhere.sqlite")
    with pytest.raises(StoreFormatError, match="not a regular file"):
        cldata.open(root)


def test_check_reports_a_result_whose_payload_file_is_gone(tmp_path, sources):
    root = tmp_path / "s"
    with cldata.open(root, mode="a") as store:
        rid = store.add_recording(sources[0])
        store.add_analysis_results([cldata.Data("big", [float(i) for i in range(20000)], sources=[rid])])
    for f in (root / "payloads").iterdir():
        f.unlink()
    report = check_path(root)
    assert not report.healthy and "its payload cannot be read" in str(report)


def test_the_catalog_engines_are_listed_and_an_unknown_one_is_named(tmp_path):
    assert list_catalog_engines()[0] == "sqlite" and get_catalog_engine("sqlite") is SQLiteEngine
    with pytest.raises(BackendError, match="no catalog engine 'postgres'; installed: sqlite"):
        cldata.open(tmp_path / "s", mode="a", catalog="postgres")
    assert not (tmp_path / "s" / "cldata-store.json").exists()


def test_a_read_only_open_writes_nothing_inside(tmp_path, sources):
    root = tmp_path / "s"
    _store(root, sources, n=5)
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    with cldata.open(root) as store:
        store.filter(window_s=1).results_frame() if _has_pandas() else store.filter(window_s=1).analysis_results
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    assert after == before


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def test_the_catalog_file_is_what_the_store_names(tmp_path, sources):
    root = tmp_path / "s"
    _store(root, sources, n=1)
    assert os.path.samefile(SQLiteEngine(root, writable=False).files()[0], Path(root) / FILE_NAME)


def test_a_catalog_engine_plugin_is_found_by_entry_point_and_a_broken_one_only_warns(monkeypatch):
    from importlib.metadata import EntryPoint

    import cldata.core.registry
    import cldata.model.engines as catalogs
    from cldata.model.engines import CatalogEngineWarning

    found = [EntryPoint("mine", "cldata.model.engines.sqlite:SQLiteEngine", catalogs.ENTRY_POINT_GROUP),
             EntryPoint("broken", "no_such_module_anywhere:Engine", catalogs.ENTRY_POINT_GROUP),
             EntryPoint("sqlite", "elsewhere:Engine", catalogs.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(cldata.core.registry, "entry_points", lambda group: [e for e in found if e.group == group])
    with pytest.warns(CatalogEngineWarning, match="tries to replace the built-in 'sqlite'"):
        assert catalogs.list_catalog_engines() == ["sqlite", "broken", "mine"]
    found.pop()  # (the impostor said its warning)
    assert get_catalog_engine("mine") is SQLiteEngine  # imported only now, when named
    with pytest.warns(CatalogEngineWarning, match="failed to load"), \
            pytest.raises(BackendError, match="could not be loaded"):
        get_catalog_engine("broken")


@pytest.mark.parametrize("sql, where", [
    ("UPDATE results SET summary = x'81a576616c7565cb4010000000000000' WHERE row = 2", "result"),
    ("UPDATE results SET payload = x'81a6696e6c696e65c40100' WHERE row = 2", "result"),
    ("UPDATE recordings SET record = CAST(record || x'00' AS BLOB)", "recording"),
])
def test_a_changed_byte_in_an_entry_fails_its_checksum(tmp_path, sources, sql, where):
    root = tmp_path / "s"
    _store(root, sources, n=3)
    db = sqlite3.connect(root / FILE_NAME)
    db.execute(sql)
    db.commit()
    db.close()
    with pytest.raises(StoreFormatError, match=f"holds {where} .* fails its checksum"):
        with cldata.open(root) as store:
            [r.payload() for r in store.analysis_results]
    report = check_path(root)
    assert not report.healthy and "fails its checksum" in str(report)


def test_a_changed_byte_in_the_index_is_found_by_check(tmp_path, sources):
    root = tmp_path / "s"
    _store(root, sources, n=20)
    db = sqlite3.connect(root / FILE_NAME)
    (blob,) = db.execute("SELECT rows FROM postings WHERE field = 5 LIMIT 1").fetchone()
    changed = bytes([blob[0] ^ 1]) + blob[1:]
    db.execute("UPDATE postings SET rows = ? WHERE field = 5 AND rows = ?", (changed, blob))
    db.commit()
    db.close()
    report = check_path(root)
    assert not report.healthy and "fail their checksum" in str(report)


def test_a_reader_of_a_version_1_store_keeps_reading_while_a_writer_migrates_it(tmp_path, sources):
    root = tmp_path / "s"
    _legacy_store(root, sources, n=5)
    before = _content(root)
    reader = cldata.open(root)  # the old layout, loaded whole
    try:
        with cldata.open(root, mode="a") as writer:  # migrates; the reader still holds the old segments
            assert isinstance(writer.catalog, EngineCatalog)
        assert (root / "catalog" / "CURRENT").is_file()
        reader.refresh()  # still answers from the segment log it opened
        assert len(reader.analysis_results) == 5
    finally:
        reader.close()
    with cldata.open(root, mode="a"):
        pass  # no reader left: the old segments go
    assert not (root / "catalog").exists() and _content(root) == before


_HOT_JOURNAL = textwrap.dedent("""
    import os, signal, sys
    import cldata
    root, rid = sys.argv[1], sys.argv[2]
    store = cldata.open(root, mode="a")
    store.engine._db.execute("PRAGMA cache_size=1")  # dirty pages spill into the database before COMMIT
    store.add_analysis_results([cldata.SingleValue(f"lost{i}", float(i), sources=[rid], parameters={"i": i})
                                for i in range(3000)])
    store.engine._db.set_trace_callback(lambda sql: os.kill(os.getpid(), signal.SIGKILL) if sql == "COMMIT" else None)
    store.commit()
""")


def test_a_reader_first_after_a_writer_killed_mid_transaction_undoes_it_and_reads_the_last_commit(tmp_path, sources):
    """Once: a reader that met the hot journal of a killed writer got "attempt to write a readonly database"
    from a pragma that touched the file before the check that undoes it (an intermittent failure)."""
    root = tmp_path / "s"
    with cldata.open(root, mode="a") as store:
        rid = store.add_recording(sources[0])
        store.add_analysis_result(cldata.SingleValue("kept", 1.0, sources=[rid]))
    out = subprocess.run([sys.executable, "-c", _HOT_JOURNAL, str(root), rid], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    journal = root / f"{FILE_NAME}-journal"
    assert journal.is_file() and journal.stat().st_size > 0  # a hot journal: the case this test is about
    with cldata.open(root) as store:
        assert [r.identifier for r in store.analysis_results] == ["kept"]
    assert check_path(root).healthy
