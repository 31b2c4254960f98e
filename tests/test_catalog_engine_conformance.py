"""The catalog-engine conformance suite (:class:`cldata.testing.CatalogEngineTests`) on the built-in SQLite engine."""

from cldata.testing import CatalogEngineTests


class TestSQLiteEngine(CatalogEngineTests):
    engine_name = "sqlite"
