// The one approval flow, wherever it starts (Ctrl+. on the diagnostic, the CodeLens, the Suggestions
// view's ✓, Fix with AI): a side-by-side diff of the document against the document with the code in
// place, and a modal that says what will happen. Insert applies exactly the shown text and asks the
// server to approve it (bound to its token); the diff tab closes whatever the answer.
import * as path from "node:path";
import * as vscode from "vscode";
import { Finding, LspRange, reasonText, Suggestion } from "./protocol";
import type { ServerController } from "./server";

const PREVIEW_SCHEME = "sandgate-preview";

/** What can be reviewed: a held suggestion or a vetted fix, with its token. */
export type Reviewable = Suggestion & { token: string; text: string };

export class ApprovalFlow implements vscode.TextDocumentContentProvider {
  private readonly previews = new Map<string, string>();
  private seq = 0;

  constructor(private readonly server: ServerController) {}

  register(): vscode.Disposable {
    return vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.previews.get(uri.query) ?? "";
  }

  /** Diff, modal, insert, approve. True when the code was inserted and approved. */
  async review(s: Reviewable): Promise<boolean> {
    const uri = vscode.Uri.parse(s.uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    const range = toRange(s.range);
    const before = doc.getText();
    const [startOffset, endOffset] = [doc.offsetAt(range.start), doc.offsetAt(range.end)];
    const name = path.basename(uri.path);
    const fix = s.kind === "fix";
    const choice = await this.withDiff(doc, range, s.text, fix ? "with the AI fix" : "with the suggestion", () =>
      vscode.window.showWarningMessage(
        fix
          ? `Apply this AI fix to ${name}, lines ${range.start.line + 1}–${Math.max(range.end.line, range.start.line + 1)}?`
          : `Insert this AI suggestion into ${name} at line ${range.start.line + 1}?`,
        { modal: true, detail: reviewDetail(s) },
        fix ? "Apply Fix" : "Insert",
      ),
    );
    if (choice !== "Insert" && choice !== "Apply Fix") return false;
    if (doc.getText() !== before) {
      void vscode.window.showErrorMessage("Sandgate: the document changed during the review; review again to see the current text.");
      return false;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, range, s.text);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage("Sandgate: the code could not be inserted.");
      return false;
    }
    try {
      await this.server.executeCommand("sandgate.approve", [{ token: s.token }]);
      const editor = await vscode.window.showTextDocument(doc);
      const end = doc.positionAt(startOffset + s.text.length);
      editor.selection = new vscode.Selection(end, end);
      void vscode.window.showInformationMessage(
        fix ? "Sandgate: AI fix applied; the approval is in the audit log." : "Sandgate: suggestion approved and inserted; the approval is in the audit log.",
      );
      return true;
    } catch (error) {
      // The server refused (stale, replayed, altered, policy changed): take the text out again.
      const undo = new vscode.WorkspaceEdit();
      undo.replace(uri, new vscode.Range(range.start, doc.positionAt(startOffset + s.text.length)), before.slice(startOffset, endOffset));
      await vscode.workspace.applyEdit(undo);
      void vscode.window.showErrorMessage(`Sandgate refused the approval: ${messageOf(error)} The insertion was undone.`);
      return false;
    }
  }

  /** A fix the server did not offer: the same diff, and why, with nothing to apply. */
  async showRefused(uriText: string, lspRange: LspRange, proposed: string, message: string): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uriText));
    await this.withDiff(doc, toRange(lspRange), proposed, "with the refused AI fix", () =>
      vscode.window.showWarningMessage(
        "Sandgate did not offer this AI fix.",
        { modal: true, detail: `${message}\n\nThe diff shows what the model proposed; nothing was changed.` },
      ),
    );
  }

  /** Opens the diff, runs `ask` (a modal), closes the diff's tab, returns the answer. */
  private async withDiff<T>(doc: vscode.TextDocument, range: vscode.Range, text: string, label: string, ask: () => Thenable<T>): Promise<T> {
    const key = `p${++this.seq}`;
    const before = doc.getText();
    const after = before.slice(0, doc.offsetAt(range.start)) + text + before.slice(doc.offsetAt(range.end));
    this.previews.set(key, after);
    const previewUri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: doc.uri.path, query: key });
    await vscode.commands.executeCommand("vscode.diff", doc.uri, previewUri, `${path.basename(doc.uri.path)} ↔ ${label} (Sandgate review)`, {
      preview: true,
      selection: new vscode.Range(range.start, range.start),
    });
    try {
      return await ask();
    } finally {
      this.previews.delete(key);
      await closeDiff(previewUri);
    }
  }
}

async function closeDiff(previewUri: vscode.Uri): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.toString() === previewUri.toString());
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
}

/** The modal's text: why it was held (or what was verified), then its findings, the user's own kept apart. */
export function reviewDetail(s: Suggestion): string {
  const lines: string[] = [];
  if (s.kind === "fix") lines.push(`AI fix, ${s.verified ?? "vetted"}.`);
  else if (s.headline) lines.push(`Held for review: ${s.headline}.`);
  const reasons = (s.reasons ?? []).map(reasonText);
  if (reasons.length) lines.push("", "Why:", ...reasons.map((r) => `• ${r}`));
  const own = (s.findings ?? []).filter((f) => f.origin !== "document" && f.severity !== "info");
  const reasonRules = new Set((s.reasons ?? []).map((r) => (r as { finding?: string }).finding));
  const others = own.filter((f) => !reasonRules.has(`${f.source}:${f.rule}`));
  if (others.length) lines.push("", "Other findings in it (not a reason):", ...others.map((f) => `• ${findingLine(f)}`));
  const existing = (s.findings ?? []).filter((f) => f.origin === "document");
  if (existing.length) lines.push("", "Already in the file before (not a reason):", ...existing.map((f) => `• ${findingLine(f)}`));
  lines.push("", "Exactly the text shown in the diff will be inserted; the approval is recorded in the audit log.");
  return lines.join("\n");
}

export function findingLine(f: Finding): string {
  const where = f.where ?? (f.line ? `line ${f.line}` : "");
  return `${f.rule ?? f.source ?? "finding"}${where ? ` (${where})` : ""}: ${f.message ?? ""}`.trim();
}

export function toRange(r: LspRange): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
