// The "Suggestions" view (pending and recent), and the approve / discard flows.
import * as path from "node:path";
import * as vscode from "vscode";
import { ApprovalFlow, findingLine, messageOf, Reviewable, toRange as lspRange } from "./approval";
import { PendingSuggestions, reasonText, Suggestion } from "./protocol";
import type { ServerController } from "./server";

type Node =
  | { kind: "group"; label: string; items: Suggestion[]; pending: boolean }
  | { kind: "suggestion"; suggestion: Suggestion; pending: boolean }
  | { kind: "detail"; label: string; description?: string; icon: string };

export class SuggestionsView implements vscode.TreeDataProvider<Node> {
  private data: PendingSuggestions = { items: [], recent: [] };
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  private treeView: vscode.TreeView<Node> | undefined;
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly server: ServerController,
    readonly flow: ApprovalFlow = new ApprovalFlow(server),
  ) {}

  register(): vscode.Disposable {
    this.treeView = vscode.window.createTreeView("sandgate.suggestions", { treeDataProvider: this, showCollapseAll: true });
    return vscode.Disposable.from(
      this.treeView,
      this.flow.register(),
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
    item.description = [outcomeLabel(s), `${path.basename(vscode.Uri.parse(s.uri).path)}:${s.range.start.line + 1}`].join(" · ");
    item.iconPath = decisionIcon(s.decision);
    item.contextValue = node.pending && s.token && s.text !== null ? "pending" : "recent";
    item.tooltip = suggestionMarkdown(s);
    item.command = { command: "vscode.open", title: "Open", arguments: [vscode.Uri.parse(s.uri), { selection: toRange(s) }] };
    return item;
  }

  /** The one approval flow (diff and modal) for a tree node, `{token}`, or a pick of the pending ones. */
  async approve(target?: unknown): Promise<void> {
    const picked = await this.pick(target, "Approve which suggestion?");
    if (!picked) return;
    try {
      await this.flow.review(picked as Reviewable);
    } finally {
      await this.refresh();
    }
  }

  /** A held or blocked suggestion (by token or id) as the pending list has it now. */
  async find(ref: { token?: string; id?: string }): Promise<Suggestion | undefined> {
    await this.refresh();
    const all = [...this.data.items, ...this.data.recent];
    return all.find((s) => (ref.token && s.token === ref.token) || (ref.id && s.id === ref.id));
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
  const reasonRules = new Set((s.reasons ?? []).map((r) => (r as { finding?: string }).finding));
  const findings = (s.findings ?? []).filter((f) => f.severity !== "info" && !reasonRules.has(`${f.source}:${f.rule}`));
  return [
    ...(s.headline ? [{ kind: "detail", label: s.headline, icon: decisionIconName(s.decision) } as Node] : []),
    ...(s.reasons ?? []).map((r): Node => ({ kind: "detail", label: reasonText(r), icon: "info" })),
    ...findings.map((f): Node => ({
      kind: "detail",
      label: findingLine(f),
      description: f.origin === "document" ? "already in the file" : f.severity,
      icon: f.origin === "document" ? "history" : "warning",
    })),
  ];
}

/** The decision said once: "held for review", "blocked", or what became of it. */
function outcomeLabel(s: Suggestion): string {
  if (s.outcome && s.outcome !== "blocked") return s.outcome;
  return { review: "held for review", block: "blocked", allow: "allowed" }[s.decision] ?? s.decision;
}

function suggestionMarkdown(s: Suggestion): vscode.MarkdownString {
  // The server's page (the same as the hover) when it sends one: plain words, links, no JSON.
  const md = new vscode.MarkdownString(s.details ?? "");
  if (!s.details) {
    md.appendMarkdown(`**${outcomeLabel(s)}**\n\n`);
    if (s.text !== null) md.appendCodeblock(s.text, "python");
    for (const r of s.reasons ?? []) md.appendMarkdown(`\n- ${reasonText(r)}`);
  }
  if (s.createdAt) md.appendMarkdown(`\n\n_${outcomeLabel(s)} · ${s.createdAt}_`);
  return md;
}

function decisionIconName(decision: string): string {
  return decision === "block" ? "error" : decision === "review" ? "eye" : "pass";
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
  return lspRange(s.range);
}
