"""Every span, event and attribute name Sandgate emits, in one place.

The `gen_ai.*` constants of the semantic-conventions package are marked deprecated while
the names themselves stand, so the project spells out the names it uses here instead of
importing them. Sandgate's own names live under `sandgate.`.
"""

# -- GenAI semantic conventions (client spans for model calls) -------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"

# -- General semantic conventions ------------------------------------------------------
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
CODE_FILE_PATH = "code.file.path"

# -- Sandgate attributes ---------------------------------------------------------------
REQUEST_ID = "sandgate.request.id"
LANGUAGE = "sandgate.language"
TRIGGER = "sandgate.trigger"
# Text-bearing attributes come in threes: `<prefix>.length`, `<prefix>.sha256` and, only when
# content export is on, `<prefix>.text`. The prefixes:
PROMPT = "sandgate.prompt"
SUGGESTION = "sandgate.suggestion"
CONTENT = "sandgate.content"  # the text a vet ran on
SANDBOX_STDOUT = "sandgate.sandbox.stdout"
SANDBOX_STDERR = "sandgate.sandbox.stderr"
FINDING_MESSAGE = "sandgate.finding.message"  # check messages may quote code: content-gated

CHECK_NAME = "sandgate.check.name"
FINDINGS_COUNT = "sandgate.findings.count"
FINDING_SOURCE = "sandgate.finding.source"
FINDING_RULE = "sandgate.finding.rule"
FINDING_SEVERITY = "sandgate.finding.severity"
FINDING_CONFIDENCE = "sandgate.finding.confidence"
FINDING_ORIGIN = "sandgate.finding.origin"
FINDING_LINE = "sandgate.finding.line"
FINDING_CWE = "sandgate.finding.cwe"

SANDBOX_BACKEND = "sandgate.sandbox.backend"
SANDBOX_OUTCOME = "sandgate.sandbox.outcome"
SANDBOX_EXIT_CODE = "sandgate.sandbox.exit_code"
SANDBOX_DURATION_MS = "sandgate.sandbox.duration_ms"
SANDBOX_KILLED = "sandgate.sandbox.killed"

NETWORK_HOST = "sandgate.network.host"
NETWORK_PORT = "sandgate.network.port"
NETWORK_ALLOWED = "sandgate.network.allowed"
NETWORK_RULE = "sandgate.network.rule"

DECISION = "sandgate.decision"
DECIDED_BY = "sandgate.decided_by"
# Who or what decided, coarse: user, policy or managed (see DECISION_SOURCES).
DECISION_SOURCE = "sandgate.decision.source"
DECISION_RULES = "sandgate.decision.rules"
CONTENT_SHA256 = "sandgate.content.sha256"

POLICY_DIGEST = "sandgate.policy.digest"
POLICY_SOURCE = "sandgate.policy.source"
POLICY_PATH = "sandgate.policy.path"
POLICY_PRESET = "sandgate.policy.preset"
ERROR_MESSAGE = "sandgate.error.message"

DECISION_SOURCES = ("user", "policy", "managed")
SANDBOX_OUTCOMES = ("completed", "timed_out", "killed", "denied")

# -- Span names ------------------------------------------------------------------------
SPAN_SUGGESTION = "sandgate.suggestion"
SPAN_VET = "sandgate.vet"
SPAN_CHECK = "sandgate.check"
SPAN_SANDBOX = "sandgate.sandbox.run"
# Model-call spans are named `{gen_ai.operation.name} {gen_ai.request.model}`, per GenAI semconv.

# -- Event names (log records with `event_name`) ---------------------------------------
EVENT_SUGGESTION_REQUESTED = "sandgate.suggestion.requested"
EVENT_MODEL_RESPONSE = "sandgate.model.response"
EVENT_FINDING = "sandgate.finding"
EVENT_SANDBOX_OUTCOME = "sandgate.sandbox.outcome"
EVENT_NETWORK_DECISION = "sandgate.network.decision"
EVENT_DECISION = "sandgate.decision"
EVENT_APPROVAL = "sandgate.approval"
EVENT_DISCARD = "sandgate.discard"
EVENT_POLICY_LOADED = "sandgate.policy.loaded"
EVENT_POLICY_ERROR = "sandgate.policy.error"
