// The "Suggestions" view (pending and recent), and the approve / discard flows.
import * as path from "node:path";
import * as vscode from "vscode";
import { Finding, PendingSuggestions, reasonText, Suggestion } from "./protocol";
import type { ServerController } from "./server";

type Node =
  | { kind: "group"; label: string; items: Suggestion[]; pending: boolean }
  | { kind: "suggestion"; suggestion: Suggestion; pending: boolean }
  | { kind: "detail"; label: string; description?: string; icon: string };

const PREVIEW_SCHEME = "sandgate-preview";

export class SuggestionsView implements vscode.TreeDataProvider<Node>, vscode.TextDocumentContentProvider {
  private data: PendingSuggestions = { items: [], recent: [] };
  private readonly previews = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  private treeView: vscode.TreeView<Node> | undefined;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly server: ServerController) {}

  register(): vscode.Disposable {
    this.treeView = vscode.window.createTreeView("sandgate.suggestions", { treeDataProvider: this, showCollapseAll: true });
    return vscode.Disposable.from(
      this.treeView,
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this),
      this.changed,
    );
  }

  async refresh(): Promise<void> {
    try {
      this.data = (await this.server.pendingSuggestions()) ?? { items: [], recent: [] };
    } catch {
      this.data = { items: [], recent: [] };
    }
    // The pending count on the view's icon in the activity bar.
    const pending = this.approvable().length;
    if (this.treeView) this.treeView.badge = pending ? { value: pending, tooltip: `${pending} AI suggestion${pending === 1 ? "" : "s"} held for review` } : undefined;
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      const { items, recent } = this.data;
      if (!items.length && !recent.length) return [];
      return [
        { kind: "group", label: "Pending", items, pending: true },
        { kind: "group", label: "Recent", items: recent, pending: false },
      ];
    }
    if (node.kind === "group") return node.items.map((suggestion) => ({ kind: "suggestion", suggestion, pending: node.pending }));
    if (node.kind === "suggestion") return detailNodes(node.suggestion);
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "group") {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
      item.description = String(node.items.length);
      return item;
    }
    if (node.kind === "detail") {
      const item = new vscode.TreeItem(node.label);
      item.description = node.description;
      item.iconPath = new vscode.ThemeIcon(node.icon);
      return item;
    }
    const s = node.suggestion;
    const item = new vscode.TreeItem(label(s), vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `${node.pending ? "pending" : "recent"}:${s.token ?? `${s.uri}:${s.createdAt}:${s.range.start.line}`}`;
    item.description = [s.outcome ?? s.decision, `${path.basename(vscode.Uri.parse(s.uri).path)}:${s.range.start.line + 1}`].join(" · ");
    item.iconPath = decisionIcon(s.decision);
    item.contextValue = node.pending && s.token && s.text !== null ? "pending" : "recent";
    item.tooltip = suggestionMarkdown(s);
    item.command = { command: "vscode.open", title: "Open", arguments: [vscode.Uri.parse(s.uri), { selection: toRange(s) }] };
    return item;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.previews.get(uri.query) ?? "";
  }

  /** Shows the document against the document with the suggestion in place; inserts and approves on confirmation. */
  async approve(target?: unknown): Promise<void> {
    const picked = await this.pick(target, "Approve which suggestion?");
    if (!picked) return;
    const s = picked as Suggestion & { token: string; text: string };
    const uri = vscode.Uri.parse(s.uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    const range = toRange(s);
    const before = doc.getText();
    const [startOffset, endOffset] = [doc.offsetAt(range.start), doc.offsetAt(range.end)];
    const after = before.slice(0, startOffset) + s.text + before.slice(endOffset);
    this.previews.set(s.token, after);
    const name = path.basename(uri.path);
    const previewUri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: uri.path, query: s.token });
    await vscode.commands.executeCommand("vscode.diff", uri, previewUri, `${name} ↔ with the suggestion (Sandgate review)`);

    const findings = (s.findings ?? []).map(findingLabel);
    const choice = await vscode.window.showWarningMessage(
      `Insert this AI suggestion into ${name} at line ${range.start.line + 1}?`,
      {
        modal: true,
        detail: [`Exactly the text shown in the diff will be inserted; the approval is recorded in the audit log.`, ...findings].join("\n"),
      },
      "Insert",
    );
    this.previews.delete(s.token);
    if (choice !== "Insert") return;
    if (doc.getText() !== before) {
      void vscode.window.showErrorMessage("Sandgate: the document changed after the preview; approve again to review the current text.");
      return;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, range, s.text);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage("Sandgate: the suggestion could not be inserted.");
      return;
    }
    try {
      await this.server.executeCommand("sandgate.approve", [{ token: s.token }]);
      const editor = await vscode.window.showTextDocument(doc);
      const end = doc.positionAt(startOffset + s.text.length);
      editor.selection = new vscode.Selection(end, end);
      void vscode.window.showInformationMessage("Sandgate: suggestion approved and inserted; the approval is in the audit log.");
    } catch (error) {
      // The server refused (stale, replayed, altered, policy changed): take the text out again.
      const undo = new vscode.WorkspaceEdit();
      undo.replace(uri, new vscode.Range(range.start, doc.positionAt(startOffset + s.text.length)), before.slice(startOffset, endOffset));
      await vscode.workspace.applyEdit(undo);
      void vscode.window.showErrorMessage(`Sandgate refused the approval: ${messageOf(error)} The insertion was undone.`);
    } finally {
      await this.refresh();
    }
  }

  async discard(target?: unknown): Promise<void> {
    const s = await this.pick(target, "Discard which suggestion?");
    if (!s) return;
    try {
      await this.server.executeCommand("sandgate.discard", [{ token: s.token }]);
    } catch (error) {
      void vscode.window.showErrorMessage(`Sandgate: could not discard the suggestion: ${messageOf(error)}`);
    }
    await this.refresh();
  }

  private approvable(): Suggestion[] {
    return this.data.items.filter((s) => s.token && s.text !== null);
  }

  /** A tree node, `{token}`, or nothing (then a quick pick of the pending suggestions). */
  private async pick(target: unknown, title: string): Promise<Suggestion | undefined> {
    await this.refresh();
    const t = target as { suggestion?: Suggestion; token?: string } | undefined;
    const token = t?.suggestion?.token ?? t?.token;
    if (token) {
      const found = this.approvable().find((s) => s.token === token);
      if (!found) void vscode.window.showWarningMessage("Sandgate: that suggestion is no longer pending.");
      return found;
    }
    if (!this.approvable().length) {
      void vscode.window.showInformationMessage("Sandgate: no suggestions are held for review.");
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      this.approvable().map((s) => ({
        label: label(s),
        description: `${path.basename(vscode.Uri.parse(s.uri).path)}:${s.range.start.line + 1}`,
        detail: (s.reasons ?? []).map(reasonText).join("; "),
        suggestion: s,
      })),
      { title, matchOnDetail: true },
    );
    return picked?.suggestion;
  }
}

function detailNodes(s: Suggestion): Node[] {
  return [
    ...(s.reasons ?? []).map((r): Node => ({ kind: "detail", label: reasonText(r), icon: "info" })),
    ...(s.findings ?? []).map((f): Node => ({
      kind: "detail",
      label: findingLabel(f),
      description: [f.severity, f.line ? `line ${f.line}` : ""].filter(Boolean).join(" · "),
      icon: "warning",
    })),
  ];
}

function findingLabel(f: Finding): string {
  return `${f.rule ?? f.source ?? "finding"}: ${f.message ?? ""}`.trim();
}

function suggestionMarkdown(s: Suggestion): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${s.outcome ?? s.decision}**${s.createdAt ? ` · ${s.createdAt}` : ""}\n\n`);
  if (s.text !== null) md.appendCodeblock(s.text, "python");
  else md.appendMarkdown("_Blocked: the text is never shown._\n");
  for (const r of s.reasons ?? []) md.appendMarkdown(`\n- ${reasonText(r)}`);
  for (const f of s.findings ?? []) md.appendMarkdown(`\n- ${findingLabel(f)}`);
  return md;
}

function decisionIcon(decision: string): vscode.ThemeIcon {
  if (decision === "block") return new vscode.ThemeIcon("error", new vscode.ThemeColor("problemsErrorIcon.foreground"));
  if (decision === "review") return new vscode.ThemeIcon("eye", new vscode.ThemeColor("problemsWarningIcon.foreground"));
  return new vscode.ThemeIcon("pass");
}

function label(s: Suggestion): string {
  const text = s.text === null ? "(blocked suggestion)" : firstLine(s.text);
  return s.kind === "fix" ? `AI fix: ${text}` : text;
}

function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return line.trim().length > 60 ? `${line.trim().slice(0, 59)}…` : line.trim();
}

function toRange(s: Suggestion): vscode.Range {
  const { start, end } = s.range;
  return new vscode.Range(start.line, start.character, end.line, end.character);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
