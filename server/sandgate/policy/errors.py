"""Problems in a policy file, each naming the file, the line and the key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyError:
    path: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "key": self.key, "message": self.message}


class PolicyLoadError(Exception):
    """Raised where a caller needs a usable policy and the files given cannot make one."""

    def __init__(self, errors: list[PolicyError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def dotted(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`("rules", 2, "decision")` -> `rules[2].decision`, the way people read keys."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
