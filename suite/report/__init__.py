"""Leaderboards: result files → pandas → paper-style markdown tables, CSV and PNG plots.

Imports nothing at package level, so the matrix schema can use `suite.report.config` without pandas.
"""
