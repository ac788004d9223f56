// Pure presentation helpers (no vscode import: unit-tested with node --test).
import type { LastDecision } from "./protocol";

export interface DecisionView {
  text: string;
  tooltip: string;
}

/** Pure: what the item shows for a decision. */
export function presentDecision(d: LastDecision): DecisionView {
  const icon = d.decision === "block" ? "$(error)" : d.decision === "review" ? "$(eye)" : d.findings ? "$(info)" : "$(pass)";
  const where = d.path ? ` (${d.path})` : "";
  const short = d.message.length > 70 ? `${d.message.slice(0, 69)}…` : d.message;
  return { text: `${icon} AI suggestion ${short}`, tooltip: `Sandgate: the last AI suggestion${where} was ${d.message}.` };
}

/** What goes into .gitignore: Sandgate's local files stay out, the shared policy stays in. */
export const GITIGNORE_LINES = [
  "# Sandgate: the audit log and local files stay out of the repository; the workspace policy is shared.",
  ".sandgate/*",
  "!.sandgate/policy.toml",
];

/** Pure: .gitignore's text with Sandgate's lines added, or undefined when it already ignores .sandgate/. */
export function withSandgateIgnored(gitignore: string): string | undefined {
  const lines = gitignore.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => /^\/?\.sandgate(\/(\*|\*\*)?)?$/.test(l))) return undefined;
  const head = gitignore.length && !gitignore.endsWith("\n") ? `${gitignore}\n` : gitignore;
  return `${head}${head.trim() ? "\n" : ""}${GITIGNORE_LINES.join("\n")}\n`;
}

