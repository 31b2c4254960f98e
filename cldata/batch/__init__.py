"""Batch analysis: parameter files, sweeps, the runner and its executors."""
