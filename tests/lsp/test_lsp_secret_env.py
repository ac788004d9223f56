"""Moving a secret to an environment variable (`sandgate.lsp.secret_env`): the literal, the name, the import."""

from __future__ import annotations

from sandgate.lsp.secret_env import env_move, import_line

KEY = "AKIAZ7Q3XK2M5N8P4R6T"


def move(line: str, text: str | None = None):
    col = line.index(KEY)
    return env_move(text if text is not None else line, 0, col, col + len(KEY))


def apply(line: str) -> str:
    found = move(line)
    assert found is not None
    return line[: found.start] + found.replacement + line[found.end :]


def test_the_name_comes_from_what_the_secret_is_given_to():
    assert apply(f'aws_key = "{KEY}"') == 'aws_key = os.environ["AWS_KEY"]'
    assert apply(f"    self.token: str = '{KEY}'") == '    self.token: str = os.environ["TOKEN"]'
    assert apply(f'client = boto3.client("s3", aws_access_key_id="{KEY}")') == (
        'client = boto3.client("s3", aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"])'
    )
    assert apply(f'CONFIG = {{"api-key": "{KEY}"}}') == 'CONFIG = {"api-key": os.environ["API_KEY"]}'
    assert apply(f'connect("{KEY}")') == 'connect(os.environ["SECRET"])'


def test_only_a_whole_plain_string_literal_moves():
    assert move(f'url = f"https://x/?k={KEY}"') is None  # part of an f-string
    assert move(f'raw = b"{KEY}"') is None  # bytes: os.environ gives str
    assert move(f"# {KEY}") is None  # a comment


def test_import_os_is_added_once_in_the_right_place():
    assert import_line("import os\nx = 1\n") is None
    assert import_line("import sys, os\n") is None
    assert import_line("import os.path\n") == 0  # binds `os`, but say it plainly
    assert import_line("import os as o\n") == 0
    assert import_line('"""Doc."""\nfrom __future__ import annotations\n\nx = 1\n') == 2
    assert import_line("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nx = 1\n") == 2
    assert import_line("x = 1\n") == 0
