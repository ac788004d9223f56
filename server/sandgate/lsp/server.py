"""The pygls server: thin handlers over the pipeline, the provider and the suggestion store.

Blocking work (vets, document checks, policy loads, audit writes) runs in a thread pool; the
event loop only waits, so other requests are answered while vets run. Failures are logged
and reported, never raised into the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from lsprotocol import types
from pygls.exceptions import JsonRpcServerError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from sandgate import __version__
from sandgate.audit.records import decision_record
from sandgate.findings import Verdict
from sandgate.lsp import convert
from sandgate.lsp.audit import AuditSink, current_user
from sandgate.lsp.fix import compare_fix
from sandgate.lsp.runtime import Runtime, build_runtime, policy_events, policy_file, probe_backend
from sandgate.sandbox.select import close_all
from sandgate.lsp.settings import read_settings
from sandgate.lsp.state import ApprovalRefused, Held, SuggestionStore, new_request_id, new_token, sha256_text
from sandgate.policy.evaluate import decide_finding
from sandgate.provider import HOW_TO_CONFIGURE, ChatResponse, CompletionContext, ProviderError, clean_candidate
from sandgate.provider import completion_messages, fix_messages, guard_completion, guard_document, guard_messages
from sandgate.suggestion import Suggestion
from sandgate.telemetry import DISABLED, Telemetry, configure
from sandgate.telemetry import names as tn

log = logging.getLogger(__name__)
T = TypeVar("T")

DEBOUNCE_S = float(os.environ.get("SANDGATE_DEBOUNCE_MS", "250")) / 1000
READY_TIMEOUT_S = 60.0
APPROVAL_ERROR_CODE = -32001
# `gen_ai.provider.name` of the model calls: the chat-completions API is OpenAI's.
PROVIDER_NAME = "openai"


def refusal_error(refused: ApprovalRefused) -> JsonRpcServerError:
    """The JSON-RPC error every approval, discard or acceptance refusal answers with."""
    return JsonRpcServerError(str(refused), APPROVAL_ERROR_CODE, data={"reason": refused.reason})


class SandgateProtocol(LanguageServerProtocol):
    def _handle_notification(self, method_name: str, params: Any) -> None:
        super()._handle_notification(method_name, params)
        # pygls 2.1.1 files the future of every notification its generator handlers (document
        # sync: didOpen, didChange...) run under a fresh id and never removes it: ~5 KiB per
        # edit, forever. A finished future there has been answered, or is a notification's.
        for key in [k for k, f in self._request_futures.items() if f.done()]:
            self._request_futures.pop(key, None)


class SandgateServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("sandgate", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=SandgateProtocol)
        # Vets (sandbox runs: tens of ms to seconds) get their own workers, so document checks,
        # guards and audit writes (`quick_pool`) never queue behind them.
        self.pool = ThreadPoolExecutor(max_workers=max(4, min(8, (os.cpu_count() or 2))), thread_name_prefix="sandgate-vet")
        self.quick_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandgate-quick")
        self.store = SuggestionStore()
        self.trusted = True
        self.client_name: str | None = None
        self.workspace_path: Path | None = None
        self.runtime: Runtime | None = None
        self.audit: AuditSink | None = None
        self.ready = asyncio.Event()
        self.backend_name = "none"
        self.sandbox_problem: str | None = None
        self.provider_error: dict[str, Any] | None = None
        self.doc_diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.policy_diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.debounce: dict[str, asyncio.Task] = {}
        self.inflight: dict[str, set[asyncio.Task]] = {}
        self.told_missing = False
        self.told_errors: set[str] = set()
        self.last_status: dict[str, Any] | None = None
        self.reload_lock = asyncio.Lock()
        self._progress_ids = itertools.count(1)
        self._background: set[asyncio.Task] = set()
        # Configured once, at the first policy load (the endpoint setting is known then).
        self.telemetry: Telemetry = DISABLED
        self.telemetry_endpoint: str | None = None
        self._telemetry_configured = False
        # What the model guard held back from the last inline request (the status's `context`).
        self.context_note: dict[str, Any] | None = None

    # -- plumbing --------------------------------------------------------------------------

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run short blocking work (checks, guards, audit writes) off the event loop."""
        return await self._in(self.quick_pool, fn, *args)

    async def vetting(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a vet, or anything else that may wait on a sandbox, off the event loop."""
        return await self._in(self.pool, fn, *args)

    async def _in(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        # In the caller's context (as asyncio.to_thread does): spans started in the worker
        # nest under the request's span.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, context.run, fn, *args)

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_client(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def relpath(self, uri: str) -> str:
        path = to_fs_path(uri)
        if path and self.workspace_path:
            try:
                return Path(path).resolve().relative_to(self.workspace_path).as_posix()
            except ValueError:
                pass
        return Path(path).name if path else "untitled.py"

    def annotations_supported(self) -> bool:
        caps = self.client_capabilities
        edit = caps.workspace.workspace_edit if caps and caps.workspace else None
        return bool(edit and edit.document_changes and edit.change_annotation_support is not None)

    def supports_progress(self) -> bool:
        caps = self.client_capabilities
        return bool(caps and caps.window and caps.window.work_done_progress)

    @contextlib.asynccontextmanager
    async def progress(self, title: str, message: str | None = None, token: Any = None):
        """`$/progress` begin/end around a long run; a no-op for clients without support."""
        created = token is not None
        if token is None and self.supports_progress():
            token = f"sandgate-{os.getpid()}-{next(self._progress_ids)}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 5)
                created = True
            except Exception:
                created = False
        if created:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=False))

        def report(text: str) -> None:
            if created:
                self.work_done_progress.report(token, types.WorkDoneProgressReport(message=text))

        try:
            yield report
        finally:
            if created:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))
                # pygls keeps every token's future (openlawlibrary/pygls#607): one per request.
                self.work_done_progress.tokens.pop(token, None)

    async def runtime_ready(self) -> Runtime | None:
        try:
            await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
        except asyncio.TimeoutError:
            return None
        return self.runtime

    # -- status ----------------------------------------------------------------------------

    def send_status(self, force: bool = False) -> None:
        rt = self.runtime
        fail_closed = list(rt.fail_closed) if rt else ["starting"]
        if self.sandbox_problem:
            fail_closed.append(self.sandbox_problem)
        if self.audit and self.audit.last_error:
            fail_closed.append(self.audit.last_error)
        if rt and rt.settings.problems:
            fail_closed.extend(f"setting ignored: {p}" for p in rt.settings.problems)
        if self.context_note and self.context_note.get("excludedBy"):
            fail_closed.append(self.context_note["message"])
        payload = convert.status_payload(
            preset=rt.loaded.preset if rt else "strict",
            backend=self.backend_name,
            pending=self.store.pending_count(),
            trusted=self.trusted,
            fail_closed=fail_closed,
            provider_configured=bool(rt and rt.provider is not None),
            provider_error=self.provider_error,
            policy_digest=rt.digest if rt else None,
            context=self.context_note,
        )
        if force or payload != self.last_status:
            self.last_status = payload
            self.protocol.notify("sandgate/status", payload)

    # -- runtime (policy, vetter, provider) ------------------------------------------------

    async def read_client_settings(self) -> Any:
        caps = self.client_capabilities
        if not (caps and caps.workspace and caps.workspace.configuration):
            return None
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="sandgate")])
                ),
                10,
            )
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return None
        return result[0] if result else None

    async def reload(self, reason: str, reread_settings: bool = False) -> None:
        async with self.reload_lock:
            settings = self.runtime.settings if self.runtime and not reread_settings else None
            if settings is None:
                settings = read_settings(await self.read_client_settings())
            old = self.runtime
            await self.configure_telemetry(settings.telemetry_endpoint)
            try:
                runtime = await self.blocking(build_runtime, self.workspace_path, self.trusted, settings, self.telemetry)
            except Exception as exc:  # a shipped preset missing: keep the old runtime if any
                log.exception("could not build the policy runtime")
                self.tell(f"Sandgate could not load its policy: {exc}", types.MessageType.Error)
                return
            self.runtime = runtime
            # The vetter set it already; said here too: content export follows every reload.
            self.telemetry.export_content = runtime.loaded.policy.telemetry.export_content
            self.report_policy(runtime)
            problem = await self.vetting(probe_backend, runtime)
            self.sandbox_problem = problem
            self.backend_name = runtime.vetter.backend_name or "none"
            if old is not None:
                # Requests still running on the old runtime finish on it; close it afterwards.
                self.spawn(self.retire(old))
            log.info("policy loaded (%s): preset %s, digest %s", reason, runtime.loaded.preset, runtime.digest[:12])
            self.publish_policy_diagnostics()
            self.ready.set()
            self.announce_provider()
            self.send_status(force=reread_settings)
            if old is not None and old.digest != runtime.digest:
                for uri in list(self.workspace.text_documents):
                    self.schedule_check(uri, delay=0)

    async def configure_telemetry(self, endpoint: str | None) -> None:
        """Once per server: the setting `sandgate.telemetry.endpoint` wins over the environment."""
        if self._telemetry_configured:
            if endpoint != self.telemetry_endpoint:
                log.info("sandgate.telemetry.endpoint changed; it takes effect when the server restarts")
            return
        self._telemetry_configured = True
        self.telemetry_endpoint = endpoint
        try:
            self.telemetry = await self.blocking(lambda: configure(endpoint=endpoint))
        except Exception:  # a broken exporter must not take the server down: no telemetry
            log.exception("telemetry could not be configured; none is exported")
            self.telemetry = DISABLED

    def report_policy(self, runtime: Runtime) -> None:
        for name, attributes in policy_events(runtime.loaded, self.workspace_path):
            if name == tn.EVENT_POLICY_LOADED:
                self.telemetry.policy_loaded(**attributes)
            else:
                self.telemetry.policy_error(**attributes)

    async def close_telemetry(self) -> None:
        telemetry, self.telemetry = self.telemetry, DISABLED
        try:
            await self.blocking(telemetry.shutdown)
        except Exception:
            log.exception("telemetry shutdown failed")

    async def retire(self, old: Runtime, grace_s: float = 60.0) -> None:
        try:
            await asyncio.sleep(grace_s)
        finally:
            if old.provider is not None:
                await old.provider.aclose()
            self.quick_pool.submit(old.vetter.close)

    def announce_provider(self) -> None:
        rt = self.runtime
        if rt is None or not rt.settings.inline_enabled:
            return
        if rt.provider is None and rt.provider_refused is None and not self.told_missing:
            self.told_missing = True
            self.tell(HOW_TO_CONFIGURE)
        elif rt.provider_refused and rt.provider_refused not in self.told_errors:
            self.told_errors.add(rt.provider_refused)
            self.tell(f"Sandgate: {rt.provider_refused}.", types.MessageType.Warning)

    def publish_policy_diagnostics(self) -> None:
        rt = self.runtime
        target = policy_file(self.workspace_path) if self.trusted else None
        fresh: dict[str, list[types.Diagnostic]] = {}
        if rt is not None and target is not None:
            problems = [(e, convert.policy_error_diagnostic) for e in rt.loaded.errors]
            problems += [(r, convert.policy_refusal_diagnostic) for r in rt.loaded.refusals]
            for error, diagnostic in problems:
                try:
                    same = Path(error.path).resolve() == target.resolve()
                except OSError:
                    same = False
                if same:
                    uri = from_fs_path(str(target))
                    fresh.setdefault(uri, []).append(diagnostic(error.line, error.key, error.message))
        for uri in set(self.policy_diagnostics) | set(fresh):
            self.policy_diagnostics[uri] = fresh.get(uri, [])
            self.publish(uri)
        for error in rt.loaded.errors if rt else []:
            key = str(error)
            if key not in self.told_errors:
                self.told_errors.add(key)
                self.log_client(f"Sandgate policy error (the strict preset applies): {error}", types.MessageType.Warning)

    def is_policy_uri(self, uri: str) -> bool:
        target = policy_file(self.workspace_path)
        path = to_fs_path(uri)
        if not target or not path:
            return False
        try:
            return Path(path).resolve() == target.resolve()
        except OSError:
            return False

    # -- diagnostics -----------------------------------------------------------------------

    def publish(self, uri: str) -> None:
        diagnostics = list(self.policy_diagnostics.get(uri, []))
        diagnostics.extend(self.doc_diagnostics.get(uri, []))
        for held in self.store.held_for(uri):
            if held.kind == "suggestion":
                diagnostics.append(
                    convert.suggestion_diagnostic(held.decision, held.line, held.character, held.reasons, held.token)
                )
        for blocked in self.store.blocked_for(uri):
            diagnostics.append(convert.suggestion_diagnostic(Verdict.BLOCK, blocked.line, blocked.character, blocked.reasons, None))
        doc = self.workspace.text_documents.get(uri)
        if doc is not None:
            diagnostics = [self.to_client(doc, d) for d in diagnostics]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version if doc else None)
        )

    @staticmethod
    def to_client(doc, diagnostic: types.Diagnostic) -> types.Diagnostic:
        lines = doc.lines
        try:
            diagnostic.range = doc.position_codec.range_to_client_units(lines, diagnostic.range)
        except Exception:  # a range past the end: leave it, the client clamps
            pass
        return diagnostic

    def schedule_check(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        if self.is_policy_uri(uri) or not uri.endswith((".py", ".pyw", ".pyi")) and not self._is_python(uri):
            return
        previous = self.debounce.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self.debounce[uri] = self.spawn(self.check_document(uri, delay))

    def _is_python(self, uri: str) -> bool:
        doc = self.workspace.text_documents.get(uri)
        return bool(doc and doc.language_id == "python")

    async def check_document(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        rt = await self.runtime_ready()
        doc = self.workspace.text_documents.get(uri)
        if rt is None or doc is None:
            return
        version, text = doc.version, doc.source
        try:
            findings = await self.blocking(rt.vetter.check_document, text, self.relpath(uri))
        except Exception:
            log.exception("document check failed for %s", uri)
            return
        doc = self.workspace.text_documents.get(uri)
        if doc is None or doc.version != version or self.runtime is not rt:
            return  # stale: a newer check is scheduled
        decided = [(f, decide_finding(rt.loaded.policy, f).verdict) for f in findings if f.source != "syntax"]
        self.doc_diagnostics[uri] = convert.findings_to_diagnostics(decided, text)
        self.publish(uri)

    # -- inline completion -----------------------------------------------------------------

    async def inline_completion(self, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        rt = await self.runtime_ready()
        uri = params.text_document.uri
        doc = self.workspace.text_documents.get(uri)
        if rt is None or doc is None or not rt.settings.inline_enabled:
            return None
        if rt.provider is None:
            self.announce_provider()
            return None
        task = asyncio.ensure_future(self._complete(rt, params, doc))
        self.inflight.setdefault(uri, set()).add(task)
        try:
            return await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                raise  # the client cancelled ($/cancelRequest)
            return types.InlineCompletionList(items=[])  # the document moved on
        finally:
            self.inflight.get(uri, set()).discard(task)

    async def _complete(self, rt: Runtime, params: types.InlineCompletionParams, doc) -> types.InlineCompletionList | None:
        request_id = new_request_id()
        relpath = self.relpath(doc.uri)
        language = doc.language_id or "python"
        trigger = "invoked" if params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked else "automatic"
        with self.telemetry.suggestion_span(request_id=request_id, file=relpath, language=language, trigger=trigger) as span:
            return await self._complete_request(rt, params, doc, request_id, relpath, language, trigger, span)

    async def _complete_request(
        self, rt: Runtime, params: types.InlineCompletionParams, doc, request_id: str, relpath: str, language: str,
        trigger: str, span: Any,
    ) -> types.InlineCompletionList | None:
        uri, version = doc.uri, doc.version
        pos = doc.position_codec.position_from_client_units(doc.lines, params.position)
        text = doc.source
        offset = doc.offset_at_position(params.position)
        # Nothing of an excluded file, and no secret, joins the request.
        guarded = await self.blocking(guard_completion, relpath, text[:offset], text[offset:], rt.loaded.policy.files)
        self.note_context(uri, relpath, guarded.status, guarded.excluded_by, guarded.redactions)
        if not guarded.allowed:
            self.telemetry.suggestion_requested(request_id=request_id, file=relpath, language=language, trigger=trigger)
            log.info("no suggestion for %s: %s", relpath, guarded.status)
            return None
        ctx = CompletionContext(guarded.before, guarded.after, language, relpath)
        messages, _ = await self.blocking(guard_messages, completion_messages(ctx))
        prompt = messages[-1]["content"]
        span.set_content(tn.PROMPT, prompt)
        self.telemetry.suggestion_requested(request_id=request_id, file=relpath, language=language, trigger=trigger, prompt=prompt)
        async with self.progress("Sandgate", "asking the model", params.work_done_token) as report:
            try:
                reply = await self.ask_model(rt, messages, request_id)
            except ProviderError as err:
                self.provider_failed(err)
                return types.InlineCompletionList(items=[])
            except Exception as exc:  # a bug or a closed client: report, never crash the request
                log.exception("model call failed unexpectedly")
                self.provider_failed(ProviderError("connection", f"{exc.__class__.__name__}: {exc}"))
                return types.InlineCompletionList(items=[])
            self.provider_ok()
            model = reply.model or rt.provider.config.model
            candidates: list[str] = []
            for answer in reply.texts:
                cleaned = clean_candidate(answer, ctx.after)
                if cleaned.strip() and cleaned not in candidates:
                    candidates.append(cleaned)
            if not candidates:
                return types.InlineCompletionList(items=[])
            report(f"vetting {len(candidates)} suggestion(s)")
            suggestions = [
                Suggestion(c, document=text, line=pos.line, character=pos.character, path=relpath) for c in candidates
            ]
            results = await asyncio.gather(
                *(self.vetting(rt.vetter.vet, s, request_id) for s in suggestions), return_exceptions=True
            )
        current = self.workspace.text_documents.get(uri)
        if current is None or current.version != version:
            return types.InlineCompletionList(items=[])
        items: list[types.InlineCompletionItem] = []
        blocked: list[Held] = []
        records: list[dict[str, Any]] = []
        for suggestion, result in zip(suggestions, results):
            if isinstance(result, BaseException):
                log.error("vet failed", exc_info=result)
                continue
            verdict = result.verdict
            reasons = [r.to_json() for r in result.reasons if r.verdict > Verdict.ALLOW]
            findings = [f.to_json() for f in result.findings]
            records.append(decision_record(result, request_id=request_id, model=model, kind="inline", uri=uri))
            if verdict is Verdict.ALLOW:
                item = self.store.add_inline(uri, suggestion.text, result.policy_digest, findings, request_id, model)
                at = current.position_codec.position_to_client_units(current.lines, pos)
                items.append(convert.inline_item(item.id, suggestion.text, at.line, at.character))
                continue
            end_line, end_char = convert.end_of_insertion(pos.line, pos.character, "")
            held = Held(
                token=new_token(),
                uri=uri,
                line=pos.line,
                character=pos.character,
                end_line=end_line,
                end_character=end_char,
                text=suggestion.text,
                decision=verdict,
                reasons=reasons,
                findings=findings,
                sha256=result.content_sha256,
                policy_digest=result.policy_digest,
                request_id=request_id,
                model=model,
            )
            if verdict is Verdict.REVIEW:
                self.store.hold(held)
            else:
                blocked.append(held)
                # Blocked: discarded by the policy (or the managed policy) that decided.
                self.telemetry.discard(request_id=request_id, decided_by=result.decided_by,
                                       content_sha256=result.content_sha256, policy_digest=result.policy_digest)
        self.store.set_blocked(uri, blocked)
        self.spawn(self.write_audit(records))
        self.publish(uri)
        self.send_status()
        return types.InlineCompletionList(items=items)

    async def ask_model(self, rt: Runtime, messages: list[dict[str, str]], request_id: str, n: int | None = None) -> ChatResponse:
        """One model call as a GenAI CLIENT span (under the request's span), then its event."""
        provider = rt.provider
        assert provider is not None
        config = provider.config
        count = n or config.candidates
        host, port = endpoint_address(config.base_url)
        tel = self.telemetry
        with tel.model_span(provider=PROVIDER_NAME, request_model=config.model, server_address=host, server_port=port,
                            max_tokens=config.max_tokens, temperature=provider.temperature_for(count)) as call:
            reply = await provider.chat(messages, count)
            call.set_model_response(response_model=reply.model, response_id=reply.response_id,
                                    input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
                                    finish_reasons=list(reply.finish_reasons) or None)
        tel.model_response(request_id=request_id, model=reply.model, text="\n".join(reply.texts),
                           finish_reasons=reply.finish_reasons, input_tokens=reply.input_tokens,
                           output_tokens=reply.output_tokens)
        return reply

    def note_context(self, uri: str, relpath: str, status: str | None, excluded_by: str | None, redactions: int) -> None:
        note = convert.context_note(uri, relpath, status, excluded_by, redactions)
        if note != self.context_note:
            self.context_note = note
            self.send_status()

    def user_decider(self) -> str:
        return self.audit.decided_by if self.audit else f"user:{current_user()}"

    async def write_audit(self, records: list[dict[str, Any]]) -> None:
        if self.audit is None:
            return
        for record in records:
            await self.blocking(self.audit.append, record)
        if self.audit.last_error:
            self.send_status()

    def provider_failed(self, err: ProviderError) -> None:
        log.warning("model call failed: %s", err.user_message)
        first = self.provider_error is None or self.provider_error.get("kind") != err.kind.value
        self.provider_error = err.to_json()
        if first:
            self.tell(f"Sandgate: {err.user_message} No suggestion was shown.", types.MessageType.Warning)
        self.send_status()

    def provider_ok(self) -> None:
        if self.provider_error is not None:
            self.provider_error = None
            self.send_status()

    def cancel_inflight(self, uri: str) -> None:
        for task in list(self.inflight.get(uri, ())):
            task.cancel()

    # -- approvals -------------------------------------------------------------------------

    def text_at(self, held: Held) -> str | None:
        doc = self.workspace.text_documents.get(held.uri)
        if doc is None:
            return None
        lines = doc.source.splitlines(keepends=True)
        if held.line >= len(lines) and not (held.line == len(lines) and held.character == 0):
            return None
        start = sum(len(x) for x in lines[: held.line]) + held.character
        return doc.source[start : start + len(held.text)]

    async def approve(self, args: dict[str, Any]) -> dict[str, Any]:
        rt = await self.runtime_ready()
        token = str(args.get("token") or "")
        held = self.store.get(token)
        text_now = self.text_at(held) if held else None
        try:
            if rt is None:
                raise ApprovalRefused("stale", "Approval refused: the server has no policy loaded.")
            record = self.store.approve(token, text_now, rt.digest)
        except ApprovalRefused as refused:
            await self.blocking(self._audit_refusal, refused, token)
            if refused.record is not None:
                self.publish(refused.record.uri)
            self.send_status()
            raise refusal_error(refused) from None
        decided_by = self.user_decider()
        self.telemetry.approval(request_id=record.request_id, decided_by=decided_by,
                                content_sha256=record.sha256, policy_digest=record.policy_digest)
        stored = await self.blocking(
            self._audit,
            {
                **self.outcome_record("approval", record, decided_by),
                "decision": str(record.decision),
                "findings": record.findings,
                "reasons": record.reasons,
                "verified": record.verified or None,
                "token_sha256": sha256_text(token),
            },
        )
        if record.kind == "fix":
            self.schedule_check(record.uri, delay=0)
        self.publish(record.uri)
        self.send_status()
        return {"ok": True, "sha256": record.sha256, "recorded": stored is not None, "message": "Approved and recorded."}

    def _audit(self, record: dict[str, Any]) -> dict[str, Any] | None:
        return self.audit.append(record) if self.audit else None

    def outcome_record(self, event: str, record: Held, decided_by: str) -> dict[str, Any]:
        """The common part of an approval or discard record (docs/audit.md)."""
        return {
            "event": event,
            "kind": record.kind,
            "uri": record.uri,
            "file": self.relpath(record.uri),
            "request_id": record.request_id,
            "model": record.model,
            "content_sha256": record.sha256,
            "policy_digest": record.policy_digest,
            "decided_by": decided_by,
        }

    def _audit_refusal(self, refused: ApprovalRefused, token: str) -> None:
        record = refused.record
        self._audit(
            {
                "event": "approval-refused",
                "reason": refused.reason,
                "message": str(refused),
                "uri": record.uri if record else None,
                "request_id": record.request_id if record else None,
                "content_sha256": record.sha256 if record else None,
                "policy_digest": record.policy_digest if record else None,
                "decided_by": self.user_decider(),
                "token_sha256": sha256_text(token),
            }
        )

    async def discard(self, args: dict[str, Any]) -> dict[str, Any]:
        token = str(args.get("token") or "")
        try:
            record = self.store.discard(token)
        except ApprovalRefused as refused:
            raise refusal_error(refused) from None
        decided_by = self.user_decider()
        self.telemetry.discard(request_id=record.request_id, decided_by=decided_by,
                               content_sha256=record.sha256, policy_digest=record.policy_digest)
        await self.blocking(
            self._audit, {**self.outcome_record("discard", record, decided_by), "token_sha256": sha256_text(token)}
        )
        self.publish(record.uri)
        self.send_status()
        return {"ok": True, "message": "Discarded."}

    async def accept_inline(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            item = self.store.accept_inline(str(args.get("id") or ""))
        except ApprovalRefused as refused:
            raise refusal_error(refused) from None
        decided_by = self.user_decider()
        # The user let an allowed suggestion in: an approval by the user, as telemetry counts it.
        self.telemetry.approval(request_id=item.request_id, decided_by=decided_by,
                                content_sha256=item.sha256, policy_digest=item.policy_digest)
        await self.blocking(
            self._audit,
            {
                "event": "acceptance",
                "kind": "inline",
                "uri": item.uri,
                "file": self.relpath(item.uri),
                "request_id": item.request_id,
                "model": item.model,
                "decision": "allow",
                "decided_by": decided_by,
                "content_sha256": item.sha256,
                "policy_digest": item.policy_digest,
                "findings": item.findings,
            },
        )
        return {"ok": True}

    # -- fix with AI -----------------------------------------------------------------------

    async def fix_with_ai(self, args: dict[str, Any]) -> dict[str, Any]:
        rt = await self.runtime_ready()
        uri = str(args.get("uri") or "")
        finding = args.get("finding") if isinstance(args.get("finding"), dict) else {}
        doc = self.workspace.text_documents.get(uri)

        def no(message: str) -> dict[str, Any]:
            self.tell(f"Sandgate: {message}")
            return {"offered": False, "message": message}

        if rt is None or doc is None:
            return no("No fix offered: the document is not open.")
        if rt.provider is None:
            return no("No fix offered: no model provider is configured.")
        if not self.trusted:
            return no("No fix offered: the workspace is not trusted, so nothing from it is run to vet a fix.")
        if args.get("version") is not None and args.get("version") != doc.version:
            return no("No fix offered: the document changed; ask again.")
        try:
            first, last = int(finding.get("line") or 0), int(finding.get("endLine") or finding.get("line") or 0)
        except (TypeError, ValueError):
            first = last = 0
        lines = doc.source.splitlines(keepends=True)
        if not 1 <= first <= last <= len(lines) or not finding.get("rule"):
            return no("No fix offered: the finding does not point at lines of this document.")
        relpath = self.relpath(uri)
        request_id = new_request_id()
        language = doc.language_id or "python"
        with self.telemetry.suggestion_span(request_id=request_id, file=relpath, language=language, trigger="fix") as span:
            return await self._fix(rt, doc, finding, lines, first, last, relpath, language, request_id, span, no)

    async def _fix(self, rt: Runtime, doc, finding: dict[str, Any], lines: list[str], first: int, last: int,
                   relpath: str, language: str, request_id: str, span: Any, no: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        uri = doc.uri
        target_key = f"{finding.get('source')}:{finding.get('rule')}"
        version, text = doc.version, doc.source
        # Nothing of an excluded file, and no secret, joins the request.
        guarded = await self.blocking(guard_document, relpath, text, rt.loaded.policy.files)
        if guarded.text is None:
            self.telemetry.suggestion_requested(request_id=request_id, file=relpath, language=language, trigger="fix")
            return no(f"No fix offered: {guarded.status}.")
        if len(guarded.text.splitlines()) != len(text.splitlines()):
            return no("No fix offered: a private key in this file was redacted, so its lines cannot be given to the model.")
        messages, _ = await self.blocking(
            guard_messages,
            fix_messages(guarded.text, language, relpath, first, last, f"{finding.get('rule')}: {finding.get('message', '')}"),
        )
        prompt = messages[-1]["content"]
        span.set_content(tn.PROMPT, prompt)
        self.telemetry.suggestion_requested(request_id=request_id, file=relpath, language=language, trigger="fix", prompt=prompt)
        original = "".join(lines[first - 1 : last])
        async with self.progress("Sandgate", f"asking the model to fix {finding.get('rule')}") as report:
            try:
                reply = await self.ask_model(rt, messages, request_id, n=1)
            except ProviderError as err:
                self.provider_failed(err)
                return no(f"No fix offered: {err.user_message}")
            self.provider_ok()
            model = reply.model or rt.provider.config.model
            fix = clean_candidate(reply.texts[0] if reply.texts else "")
            if not fix.strip():
                return no("No fix offered: the model proposed nothing.")
            if original.endswith("\n") and not fix.endswith("\n"):
                fix += "\n"
            if fix == original:
                return no("No fix offered: the model proposed the same lines.")
            report("vetting the fix and the original")
            place = dict(document=text, line=first - 1, character=0, end_line=last, end_character=0, path=relpath)
            before, after = await asyncio.gather(
                self.vetting(rt.vetter.vet, Suggestion(original, **place), request_id),
                self.vetting(rt.vetter.vet, Suggestion(fix, **place), request_id),
            )
        check = compare_fix(before, after, target_key)
        record = decision_record(after, request_id=request_id, model=model, kind="fix", uri=uri, fix_check=check.message)
        self.spawn(self.write_audit([record]))
        current = self.workspace.text_documents.get(uri)
        if current is None or current.version != version:
            return no("No fix offered: the document changed while the fix was vetted; ask again.")
        if not check.ok:
            return no(check.message)
        held = Held(
            token=new_token(),
            uri=uri,
            line=first - 1,
            character=0,
            end_line=last,
            end_character=0,
            text=fix,
            decision=after.verdict,
            reasons=[r.to_json() for r in after.reasons if r.verdict > Verdict.ALLOW],
            findings=[f.to_json() for f in after.findings],
            sha256=after.content_sha256,
            policy_digest=after.policy_digest,
            kind="fix",
            verified=check.message,
            finding_key=f"{target_key}:{first}",
            request_id=request_id,
            model=model,
        )
        self.store.hold(held)
        self.send_status()
        message = f"AI fix ready ({check.message}): choose “Apply AI fix” on the diagnostic."
        self.tell(f"Sandgate: {message}")
        return {"offered": True, "message": message, "token": held.token, "verified": check.message}

    # -- code actions ----------------------------------------------------------------------

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        doc = self.workspace.text_documents.get(uri)
        version = doc.version if doc else None
        annotations = self.annotations_supported()
        rt = self.runtime
        actions: list[types.CodeAction] = []
        for diagnostic in params.context.diagnostics:
            if diagnostic.source != convert.SOURCE:
                continue
            data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
            if diagnostic.code == convert.HELD_CODE:
                held = self.store.get(str(data.get("token") or ""))
                if held is not None and held.kind == "suggestion":
                    actions.extend(convert.held_actions(diagnostic, held.to_json(), version, annotations=annotations))
                continue
            if data.get("kind") != "finding" or doc is None:
                continue
            line = int(data.get("line") or 0)
            lines = doc.lines
            if 1 <= line <= len(lines):
                suppress = convert.suppress_action(uri, diagnostic, line - 1, lines[line - 1].rstrip("\r\n"))
                if suppress is not None:
                    actions.append(suppress)
            key = f"{data.get('source')}:{data.get('rule')}:{line}"
            ready = [h for h in self.store.held_for(uri) if h.kind == "fix" and h.finding_key == key]
            if ready:
                actions.append(convert.fix_action(diagnostic, ready[-1].to_json(), version, annotations=annotations))
            elif rt is not None and rt.provider is not None and self.trusted and data.get("source") in ("bandit", "policy"):
                actions.append(convert.fix_request_action(uri, version, diagnostic))
        return actions


def endpoint_address(url: str) -> tuple[str | None, int | None]:
    """`server.address` and `server.port` of a model endpoint URL (the port defaulted by scheme)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.hostname, port


def _args(arguments: Any) -> dict[str, Any]:
    """The first argument of a command, as a dict; `{}` for anything else."""
    if isinstance(arguments, (list, tuple)) and arguments and isinstance(arguments[0], dict):
        return arguments[0]
    if isinstance(arguments, dict):
        return arguments
    return {}


def build_server() -> SandgateServer:
    server = SandgateServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: SandgateServer, params: types.InitializeParams) -> None:
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        trusted = options.get("trusted", True)
        ls.trusted = trusted if isinstance(trusted, bool) else False  # anything odd: untrusted
        name = options.get("clientName")
        ls.client_name = name if isinstance(name, str) else (params.client_info.name if params.client_info else None)
        root = ls.workspace.root_path
        ls.workspace_path = Path(root).resolve() if root else None
        ls.audit = AuditSink(ls.workspace_path, ls.client_name)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SandgateServer, params: types.InitializedParams) -> None:
        await ls.reload("start-up", reread_settings=True)
        caps = ls.client_capabilities
        watched = caps.workspace.did_change_watched_files if caps and caps.workspace else None
        if watched and watched.dynamic_registration:
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="sandgate-policy-watch",
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                    watchers=[types.FileSystemWatcher(glob_pattern="**/.sandgate/policy.toml")]
                                ),
                            )
                        ]
                    )
                )
            except Exception as exc:
                log.info("file watcher not registered: %s", exc)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SandgateServer, params: None) -> None:
        for task in list(ls._background):
            task.cancel()
        if ls.runtime and ls.runtime.provider:
            await ls.runtime.provider.aclose()
        await ls.blocking(close_all)  # the warm pools: their sandboxes go now, not at exit
        await ls.close_telemetry()  # flushes what is batched: nothing is lost at exit

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SandgateServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule_check(params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SandgateServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.cancel_inflight(params.text_document.uri)
        ls.schedule_check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: SandgateServer, params: types.DidSaveTextDocumentParams) -> None:
        if ls.is_policy_uri(params.text_document.uri):
            await ls.reload("policy saved")

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SandgateServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.cancel_inflight(uri)
        task = ls.debounce.pop(uri, None)
        if task:
            task.cancel()
        ls.doc_diagnostics.pop(uri, None)
        ls.store.drop_uri(uri)
        ls.publish(uri)
        if ls.context_note and ls.context_note.get("uri") == uri:
            ls.context_note = None
            ls.send_status()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(ls: SandgateServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(ls.is_policy_uri(change.uri) for change in params.changes):
            await ls.reload("policy file changed")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(ls: SandgateServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.ready.is_set():
            await ls.reload("settings changed", reread_settings=True)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: SandgateServer, params: types.InlineCompletionParams):
        return await ls.inline_completion(params)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: SandgateServer, params: types.CodeActionParams):
        return ls.code_actions(params)

    @server.feature("sandgate/pendingSuggestions")
    def pending(ls: SandgateServer, params: Any) -> dict[str, Any]:
        return ls.store.snapshot()

    @server.command(convert.CMD_APPROVE)
    async def approve(ls: SandgateServer, *args: Any) -> dict[str, Any]:
        return await ls.approve(_args(args))

    @server.command(convert.CMD_DISCARD)
    async def discard(ls: SandgateServer, *args: Any) -> dict[str, Any]:
        return await ls.discard(_args(args))

    @server.command(convert.CMD_ACCEPT_INLINE)
    async def accept_inline(ls: SandgateServer, *args: Any) -> dict[str, Any]:
        return await ls.accept_inline(_args(args))

    @server.command(convert.CMD_VERIFY_AUDIT)
    async def verify_audit(ls: SandgateServer, *args: Any) -> dict[str, Any]:
        if ls.audit is None:
            return {"ok": False, "message": "no workspace folder: there is no audit log"}
        async with ls.progress("Sandgate", "verifying the audit log"):
            return await ls.blocking(ls.audit.verify)

    @server.command(convert.CMD_FIX_WITH_AI)
    async def fix_with_ai(ls: SandgateServer, *args: Any) -> dict[str, Any]:
        return await ls.fix_with_ai(_args(args))

    return server
