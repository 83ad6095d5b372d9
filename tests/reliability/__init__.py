"""Helpers for the reliability tests and the long runs (loadtests/reliability_run.py): a real
server, candidates speaking plain HTTP, a log of acknowledged saves, and the reconciliation
of that log with the database."""
