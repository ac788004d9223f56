"""A workspace, a loopback model and Vim with coc.nvim configured as docs/editors.md documents."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from openai_server import OpenAIServer
from vim_driver import Vim, find_tools, sandgate_wrapper

HERE = Path(__file__).resolve().parent

SERVER_ROOT = HERE.parents[1] / "server"


def coc_settings(base_url: str | None) -> dict[str, Any]:
    """coc-settings.json as docs/editors.md documents it; the model is the loopback one (or none)."""
    # permissive: bandit high findings are held for review rather than blocked (the approval flow).
    sandgate: dict[str, Any] = {"policy": {"preset": "permissive"}, "sandbox": {"backend": "bwrap"}}
    if base_url is not None:
        sandgate["model"] = {"baseUrl": base_url, "name": "fake-model"}
    return {
        "languageserver": {
            "sandgate": {
                "command": "sandgate",
                "args": ["serve"],
                "filetypes": ["python"],
                "rootPatterns": [".sandgate", "pyproject.toml", ".git"],
                "initializationOptions": {"trusted": True, "clientName": "coc.nvim"},
                "settings": {"sandgate": sandgate},
            }
        }
    }


class Editor:
    """A workspace, a loopback model, and Vim with coc.nvim editing one file of it."""

    def __init__(self, tmp_path: Path, model: OpenAIServer | None) -> None:
        self.tmp = tmp_path
        self.workspace = tmp_path / "ws"
        (self.workspace / ".sandgate").mkdir(parents=True)
        self.model = model
        self.vim: Vim | None = None

    def open(self, name: str, text: str) -> Vim:
        vim, coc, node = find_tools()
        (self.workspace / name).write_text(text)
        config_home = self.tmp / "coc-config"
        config_home.mkdir()
        settings = coc_settings(self.model.base_url if self.model else None)
        (config_home / "coc-settings.json").write_text(json.dumps(settings, indent=2))
        bin_dir = self.tmp / "bin"
        sandgate_wrapper(bin_dir)
        # The server's environment is Vim's (coc passes it on): no model from the outside, this tree's code.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SANDGATE_"))}
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SERVER_ROOT), env.get("PYTHONPATH")]))
        env["SANDGATE_DEBOUNCE_MS"] = "30"
        env["NVIM_COC_LOG_FILE"] = str(self.tmp / "coc.log")
        home = self.tmp / "home"
        home.mkdir()
        self.vim = Vim(vim, coc, node, config_home, home, self.workspace, env, name)
        return self.vim

    def audit(self) -> list[dict[str, Any]]:
        path = self.workspace / ".sandgate" / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        if self.vim is not None:
            self.vim.close()
