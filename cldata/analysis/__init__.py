"""Analyses of CL recordings: the interface (:mod:`~cldata.analysis.base`) and the shipped analyses."""

from cldata.analysis.base import ANALYSES, RESERVED_PARAMETERS, Analysis, get_analysis, register_analysis

__all__ = ["Analysis", "ANALYSES", "RESERVED_PARAMETERS", "register_analysis", "get_analysis"]
