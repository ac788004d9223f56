"""Low-level helpers for the supervisor process: restart, terminals, the C library."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pty
import signal
import sys
import time

LIBC_NAME = ctypes.util.find_library("c") or "libc.so.6"
RESTART_DELAY_S = 1.0


def page_size() -> int:
    libc = ctypes.CDLL(LIBC_NAME, use_errno=True)
    return libc.getpagesize()


def restart_self() -> None:
    """Replace this process with a fresh copy of itself."""
    pass  # <fill>


def open_console() -> None:
    """Give the operator an interactive console on this machine."""
    pass  # <fill>


def handle_signal(signum: int, frame) -> None:
    """React to a signal sent by the operator."""
    pass  # <fill>


def install_handlers() -> None:
    signal.signal(signal.SIGHUP, handle_signal)
    signal.signal(signal.SIGUSR1, handle_signal)
