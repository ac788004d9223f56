// What the status bar shows, as a pure function of the client's state and the server's status.
import type { ServerStatus } from "./protocol";

export type ClientState =
  | { kind: "starting"; detail?: string }
  | { kind: "running"; status?: ServerStatus }
  | { kind: "stopped"; detail?: string }
  | { kind: "not-installed"; detail: string }
  | { kind: "failed"; detail: string };

export interface StatusView {
  text: string;
  /** Markdown. */
  tooltip: string;
  level: "normal" | "warning" | "error";
}

export function presentStatus(state: ClientState, workspaceTrusted: boolean): StatusView {
  switch (state.kind) {
    case "starting":
      return { text: "$(sync~spin) Sandgate", tooltip: state.detail ?? "Starting the Sandgate server…", level: "normal" };
    case "stopped":
      return { text: "$(circle-slash) Sandgate", tooltip: state.detail ?? "The Sandgate server is stopped.", level: "normal" };
    case "not-installed":
      return { text: "$(error) Sandgate: not installed", tooltip: state.detail, level: "error" };
    case "failed":
      return { text: "$(error) Sandgate", tooltip: state.detail, level: "error" };
    case "running":
      if (!state.status) return { text: "$(shield) Sandgate", tooltip: "The Sandgate server is running.", level: "normal" };
      return presentRunning(state.status, workspaceTrusted);
  }
}

function presentRunning(status: ServerStatus, workspaceTrusted: boolean): StatusView {
  const restricted = !workspaceTrusted || status.trusted === false;
  const failClosed = status.failClosed ?? [];
  const providerError = status.providerError;
  const pending = status.pending ?? 0;
  const parts = [status.preset ?? "?", status.backend ?? "?", `${pending} pending`];
  const warn = failClosed.length > 0 || !!providerError;
  const icon = warn ? "$(warning)" : "$(shield)";
  const text = `${icon} Sandgate${restricted ? " (restricted)" : ""}: ${parts.join(" · ")}`;

  const lines = [
    `**Sandgate** ${restricted ? "— restricted workspace" : ""}`,
    "",
    `- Policy preset: \`${status.preset ?? "unknown"}\``,
    `- Sandbox backend: \`${status.backend ?? "unknown"}\``,
    `- Model provider: ${status.provider ?? "unknown"}`,
    `- Suggestions held for review: ${pending}`,
  ];
  if (restricted) {
    lines.push("", "Restricted mode: the workspace policy is ignored, the strict preset applies, and nothing from the workspace is run.");
  }
  if (failClosed.length) {
    // Not "held": while the audit log cannot be written, nothing is held either.
    lines.push("", "**Failing closed** — no suggestion is shown unvetted or unrecorded, because:", ...failClosed.map((r) => `- ${r}`));
  }
  if (providerError) {
    lines.push("", `**Model provider error** (${providerError.kind ?? "error"}): ${providerError.message ?? ""}`);
  }
  const languages = status.languages ?? [];
  if (languages.length) {
    lines.push("", "**Not vetted** — Sandgate cannot vet these languages yet:", ...languages.map((l) => `- ${l.message ?? l.language ?? "?"}`));
  }
  return { text, tooltip: lines.join("\n"), level: warn ? "warning" : "normal" };
}
