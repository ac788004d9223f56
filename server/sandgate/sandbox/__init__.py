"""Sandboxed execution: run a suggestion under Docker or bubblewrap and report what it did.

Entry points: `select.open_backend`, `Backend.run`, `report.findings_from_run`.
"""
