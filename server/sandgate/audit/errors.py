"""The one error the audit log raises when it cannot be appended to (or read) safely."""


class AuditError(Exception):
    """The log cannot be appended to safely: its last record is unreadable, or a file of it (or its
    folder) is a symbolic link or not a regular file. The message names the path and what to do."""
