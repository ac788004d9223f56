// The custom parts of docs/protocol.md that the extension uses. Shapes are read leniently:
// the server owns them, the extension only displays them.
import { NotificationType, RequestType } from "vscode-languageclient/node";

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface Finding {
  source?: string;
  rule?: string;
  severity?: string;
  message?: string;
  line?: number;
  /** "suggestion", or "document" for code that was already in the file (reported, never a reason). */
  origin?: string;
  /** The line as the user's buffer counts it ("line 2 of the suggestion", "line 7"). */
  where?: string | null;
  more_info?: string | null;
  cwe?: number | null;
}

export interface Suggestion {
  /** null for a blocked suggestion: it is never handed over. */
  token: string | null;
  uri: string;
  range: LspRange;
  text: string | null;
  kind?: "suggestion" | "fix";
  decision: string;
  reasons?: unknown[];
  findings?: Finding[];
  createdAt?: string;
  outcome?: string;
  /** Names the record (a blocked one has no token). */
  id?: string;
  /** What it does that decided it, in a few words. */
  headline?: string;
  /** The whole explanation, Markdown (the same page as the hover). */
  details?: string;
  /** For a fix: what was verified. */
  verified?: string;
  summary?: string;
}

export interface PendingSuggestions {
  items: Suggestion[];
  recent: Suggestion[];
}

export interface ServerStatus {
  preset?: string;
  backend?: string;
  pending?: number;
  trusted?: boolean;
  failClosed?: string[];
  provider?: "configured" | "missing";
  /** `provider` is missing because the policy refuses the endpoint (said in failClosed), not unset. */
  providerRefused?: boolean;
  providerError?: { kind?: string; message?: string; status?: number } | null;
  /** Languages asked about that Sandgate cannot vet yet, and what the policy does about them. */
  languages?: { language?: string; handling?: string; staticOnly?: boolean; message?: string }[];
  /** The last vet that failed (or found nothing it could vet), until one succeeds. */
  vetError?: { uri?: string; path?: string; message?: string } | null;
  /** The decision on the last inline request; `seq` grows with each. */
  lastDecision?: LastDecision | null;
}

export interface LastDecision {
  seq: number;
  decision: "allow" | "review" | "block" | string;
  message: string;
  findings?: string;
  uri?: string;
  path?: string;
}

/** What `sandgate.fixWithAI` answers. */
export interface FixAnswer {
  offered: boolean;
  message: string;
  token?: string;
  verified?: string;
  /** The proposed lines (offered or refused), and the range they replace. */
  proposed?: string;
  range?: LspRange;
}

export interface VerifyResult {
  ok: boolean;
  message: string;
}

// Sent with `{}` as params: "no params" in the protocol, but some servers (pygls 2.1) reject a request without them.
export const pendingSuggestionsRequest = new RequestType<Record<string, never>, PendingSuggestions, void>("sandgate/pendingSuggestions");
export const statusNotification = new NotificationType<ServerStatus>("sandgate/status");

/** A reason may be a plain string or an object with a message; show either as one line, never as JSON. */
export function reasonText(reason: unknown): string {
  if (typeof reason === "string") return reason;
  if (reason && typeof reason === "object") {
    const r = reason as Record<string, unknown>;
    for (const key of ["message", "text", "reason", "description", "finding", "policy_rule", "rule", "id"]) {
      if (typeof r[key] === "string" && r[key]) return r[key] as string;
    }
  }
  return "(no reason given)";
}
