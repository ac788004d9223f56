"""The model guard applied to prompts: exclusions, redaction around the cursor, and the response
details (model, usage, finish reasons) the client reports for telemetry."""

from __future__ import annotations

import pytest

from sandgate.policy.load import load_effective
from sandgate.provider import ChatClient, completion_messages, guard_completion, guard_document, guard_messages
from sandgate.provider.config import ProviderConfig
from sandgate.provider.prompt import CompletionContext

AWS_KEY = "AKIAZ3MSJV7WQLPX4TQB"
PASSWORD = "hX9#kq2Lm8vZ4pQw7rT1"


@pytest.fixture(scope="module")
def files():
    return load_effective(None, "balanced").policy.files


def test_excluded_files_give_nothing(files):
    for path in ("secrets/config.py", ".env", "a/b/.env.local", "keys/server.pem"):
        guarded = guard_completion(path, "x = 1\n", "", files)
        assert not guarded.allowed and guarded.before is None and guarded.after is None
        assert guarded.excluded_by and "files.exclude" in guarded.status
    assert guard_document(".env", "A=1", files).text is None


def test_secrets_on_both_sides_are_redacted(files):
    before = f'KEY = "{AWS_KEY}"\n\ndef f():\n    '
    after = f'\n\npassword = "{PASSWORD}"\n'
    guarded = guard_completion("a.py", before, after, files)
    assert guarded.allowed and guarded.redactions == 2
    assert AWS_KEY not in guarded.before + guarded.after and PASSWORD not in guarded.before + guarded.after
    assert guarded.before.endswith("def f():\n    ") and guarded.after.startswith("\n\npassword = ")
    assert "2 secrets redacted" in guarded.status


def test_clean_text_is_unchanged(files):
    guarded = guard_completion("a.py", "def f():\n    ", "\n", files)
    assert (guarded.before, guarded.after, guarded.redactions, guarded.status) == ("def f():\n    ", "\n", 0, None)


@pytest.mark.parametrize("cut", [4, 9, 15])
def test_a_secret_split_by_the_cursor_leaves_its_line_out(files, cut):
    before = f'x = 1\nKEY = "{AWS_KEY[:cut]}'
    after = f'{AWS_KEY[cut:]}"\ny = 2\n'
    guarded = guard_completion("a.py", before, after, files)
    assert guarded.allowed and guarded.redactions >= 1
    joined = guarded.before + guarded.after
    assert AWS_KEY[:cut] not in joined and AWS_KEY[cut:] not in joined
    assert guarded.before == "x = 1\n" and guarded.after == "\ny = 2\n"


def test_keyword_secret_split_by_the_cursor(files):
    guarded = guard_completion("a.py", f'password = "{PASSWORD[:6]}', f'{PASSWORD[6:]}"\n', files)
    joined = guarded.before + guarded.after
    assert PASSWORD[:6] not in joined and PASSWORD[6:] not in joined


def test_messages_are_redacted_once_more():
    messages = completion_messages(CompletionContext(f'k = "{AWS_KEY}"\n', "", "python", "a.py"))
    guarded, count = guard_messages(messages)
    assert count == 1 and AWS_KEY not in guarded[-1]["content"] and guarded[0] == messages[0]


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_reports_model_usage_and_finish_reasons(model, stream):
    model.set_script({"*": ["a", "b"]})
    client = ChatClient(ProviderConfig(base_url=model.base_url, model="fake-model", stream=stream, timeout_s=2.0))
    try:
        reply = await client.chat([{"role": "user", "content": "hi"}], n=2)
    finally:
        await client.aclose()
    assert reply.texts == ["a", "b"] and reply.model == "fake-model" and reply.response_id == "chatcmpl-fake"
    assert reply.finish_reasons == ("stop", "stop")
    # The fake server reports usage on plain answers only (streams carry none unless asked).
    assert (reply.input_tokens, reply.output_tokens) == ((None, None) if stream else (1, 1))
    assert client.temperature_for(1) == 0.2 and client.temperature_for(3) == 0.6
