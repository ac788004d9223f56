"""Real Vim, headless in a pseudo-terminal, with coc.nvim loaded from a private packpath.

The test never parses the screen: Vim itself reports its state. A timer in the vimrc writes a JSON
snapshot (mode, buffer lines, coc's diagnostics, messages, the text of open popups) to a file every
200 ms; the test types keys into the terminal as a user would and waits on those snapshots.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A snapshot of what the user sees. popup_list() is Vim 9; coc shows notifications and the
# confirmation menu as popups. CocAction needs coc's service up, hence the guard.
_VIMRC = r"""
set nocompatible
set packpath^={packpath}
let g:coc_node_path = {node}
let g:coc_config_home = {config_home}
let g:coc_data_home = {data_home}
filetype plugin on
set noswapfile nobackup nowritebackup updatetime=100 shortmess-=S
" coc's documented mappings (doc/coc.txt): accept an inline completion, code actions at the cursor.
inoremap <silent><expr> <Tab> coc#inline#visible() ? coc#inline#accept() : "\<Tab>"
nmap <silent> ga <Plug>(coc-codeaction-cursor)

function! SandgateTestSnapshot(timer) abort
  let l:state = {{'mode': mode(1), 'filetype': &filetype, 'lines': getline(1, '$'), 'messages': execute('messages'),
        \ 'coc': get(g:, 'coc_service_initialized', 0), 'inline': 0, 'diagnostics': [], 'popups': []}}
  for l:id in popup_list()
    call add(l:state.popups, getbufline(winbufnr(l:id), 1, '$'))
  endfor
  if l:state.coc
    let l:state.inline = coc#inline#visible()
    try
      let l:state.diagnostics = CocAction('diagnosticList')
      let l:state.services = CocAction('services')
    catch
    endtry
  endif
  call writefile([json_encode(l:state)], {snapshot} . '.tmp')
  call rename({snapshot} . '.tmp', {snapshot})
endfunction
call timer_start(200, 'SandgateTestSnapshot', {{'repeat': -1}})
"""


def _vim_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class Vim:
    def __init__(
        self,
        vim: str,
        coc_dir: Path,
        node: str,
        config_home: Path,
        home: Path,
        cwd: Path,
        env: dict[str, str],
        file: str,
    ) -> None:
        packpath = home / "pack"
        (packpath / "pack" / "test" / "start").mkdir(parents=True)
        (packpath / "pack" / "test" / "start" / "coc.nvim").symlink_to(coc_dir)
        self.snapshot_path = home / "snapshot.json"
        vimrc = home / "vimrc"
        vimrc.write_text(
            _VIMRC.format(
                packpath=str(packpath).replace(" ", r"\ "),
                node=_vim_string(node),
                config_home=_vim_string(config_home),
                data_home=_vim_string(home / "coc-data"),
                snapshot=_vim_string(self.snapshot_path),
            )
        )
        self.output = bytearray()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.process = subprocess.Popen(
            [vim, "-N", "-u", str(vimrc), "-i", "NONE", file],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env={**env, "TERM": "xterm", "HOME": str(home)},
            start_new_session=True,
        )
        os.close(slave)
        self._master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # Drained continuously: a full terminal buffer would stop Vim.
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.snapshot_path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait(self, predicate: Callable[[dict[str, Any]], Any], what: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait for a snapshot that satisfies predicate (generous: the machine is shared and loaded)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"vim exited ({self.process.returncode}) while waiting for {what}")
            state = self.state()
            if state is not None:
                last = state
                if predicate(state):
                    return state
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last state: {json.dumps(last, indent=1)[:4000]}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.type("\x1b\x1b:qa!\r")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        os.close(self._master)
        self._reader.join(timeout=5)


def sandgate_wrapper(bin_dir: Path) -> Path:
    """`sandgate` on PATH as the docs' coc-settings.json names it, running this interpreter (and so this tree)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "sandgate"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m sandgate "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def find_tools() -> tuple[str, Path, str]:
    """Vim, coc.nvim and Node as scripts/setup-editor-tests.sh installs them; a clear failure otherwise."""
    cache = Path(os.environ.get("SANDGATE_E2E_CACHE", "/opt/sandgate-e2e"))
    vim = shutil.which("vim")
    coc = cache / "coc.nvim"
    node = cache / "bin" / "node"
    missing = [
        name
        for name, ok in (
            ("vim", vim),
            (f"coc.nvim in {coc}", (coc / "build" / "index.js").is_file()),
            (f"{node}", node.exists()),
        )
        if not ok
    ]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run scripts/setup-editor-tests.sh (as root) first")
    assert vim is not None
    return vim, coc, str(node)
