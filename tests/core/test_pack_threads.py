"""The security pack's caches under the server's threads: document checks, vets and the model
guard's credential redaction scan side by side (a KeyError from the index cache's eviction failed
a document check in CI)."""

from __future__ import annotations

import sys
import threading

from sandgate.checks import rule_pack
from sandgate.checks.pack_rules import run_pack

CODE = 'import subprocess\nPASSWORD = "hunter2-hunter2"\nsubprocess.call(cmd, shell=True)\n'


def test_scans_with_many_rule_sets_at_once_do_not_trip_over_the_index_cache():
    pack = rule_pack.load_pack()
    rules = [r for r in pack.rules]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def scan(offset: int) -> None:
        start.wait()
        try:
            for i in range(150):
                # A new tuple each time: a cache miss, and past 64 entries an eviction.
                run_pack(CODE, pack, rules=(rules[(offset + i) % len(rules)],))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(n * 7,)) for n in range(8)]
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: two evictions of one entry meet
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert errors == []


def test_the_pack_is_loaded_and_its_examples_checked_once_when_threads_ask_at_once(monkeypatch):
    calls: list[int] = []
    check = rule_pack.check_examples

    def counted(pack):  # noqa: ANN001
        calls.append(1)
        return check(pack)

    monkeypatch.setattr(rule_pack, "check_examples", counted)
    rule_pack._load_pack.cache_clear()
    start = threading.Barrier(6)
    loaded: list[object] = []

    def load() -> None:
        start.wait()
        loaded.append(rule_pack.load_pack())

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rule_pack._load_pack.cache_clear()  # the next test loads the real one again
    assert len(calls) == 1 and len(loaded) == 6 and all(p is loaded[0] for p in loaded)
