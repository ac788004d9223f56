"""An identical re-ask (coc.nvim asks again right after each acceptance) is answered without a
second model call, a second vet or a second sandbox run — counted in the spans the real server
exports to a loopback OTLP receiver; a policy change misses and vets again."""

from __future__ import annotations

import sys
from pathlib import Path

from lsprotocol import types

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from lsp_helpers import Doc, inline, session, wait_for  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402
from test_server_telemetry import env_for  # noqa: E402

from sandgate.telemetry import names as n  # noqa: E402

DOC = "def add(a, b):\n    "
OPTIONS = {"settings": {"model": {"stream": False}}, "script": {"def add(a, b)": "return a + b"}}


def count(received, name: str) -> int:
    return sum(1 for s in received.spans if s.name == name)


async def test_reask_hits_the_caches_and_a_policy_change_misses(tmp_path, otlp_receiver):
    got = otlp_receiver
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    with OpenAIServer() as model:
        async with session(workspace, model, env_for(got.url), OPTIONS) as client:
            doc = Doc(client, workspace / "calc.py", DOC)
            for _ in range(3):
                result = await inline(client, doc)
                assert [item.insert_text for item in result.items] == ["return a + b"]
            assert len(model.requests) == 1
            digest = client.statuses[-1]["policyDigest"]
            policy = workspace / ".sandgate" / "policy.toml"
            policy.write_text('version = 1\nextends = "permissive"\n\n[sandbox.limits]\nwall_time_s = 4\n')
            client.workspace_did_change_watched_files(
                types.DidChangeWatchedFilesParams(
                    changes=[types.FileEvent(uri=policy.as_uri(), type=types.FileChangeType.Changed)]
                )
            )
            await wait_for(lambda: client.statuses[-1]["policyDigest"] != digest)
            result = await inline(client, doc)
            assert [item.insert_text for item in result.items] == ["return a + b"]
        got.wait_for(lambda r: count(r, n.SPAN_SUGGESTION) >= 4 and count(r, n.SPAN_VET) >= 2)

    assert count(got, n.SPAN_SUGGESTION) == 4  # every request is still traced
    assert count(got, n.SPAN_VET) == 2  # the first ask and the one under the new policy
    assert count(got, n.SPAN_SANDBOX) == 2
    assert count(got, "chat fake-model") == 2
