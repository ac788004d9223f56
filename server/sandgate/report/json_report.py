"""`--format json`: the machine-readable result, one object per vetted file."""

from __future__ import annotations

import json
from typing import Any


def render_json(results: list[dict[str, Any]]) -> str:
    return json.dumps({"results": results}, indent=2, ensure_ascii=False)
