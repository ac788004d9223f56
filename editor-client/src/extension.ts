// Sandgate for VS Code: starts the Sandgate language server and gives its results a place in the UI.
// The server does the vetting; this file wires commands, the status bar and the suggestions view.
import * as vscode from "vscode";
import { onPythonInterpreterChanged } from "./interpreter";
import { registerOnboarding } from "./onboarding";
import type { VerifyResult } from "./protocol";
import { API_KEY_SECRET, ServerController } from "./server";
import { traceChannel } from "./trace";
import { showMenu } from "./quickPick";
import { registerSettingsCommand } from "./settings";
import { Snooze } from "./snooze";
import { presentStatus } from "./status";
import { SuggestionsView } from "./suggestions";
import { registerSuggestionCommands } from "./commands";
import { lastDecisionItem } from "./lastDecision";
import { ensurePolicy, maybeHintGitignore, watchSandgateFolder } from "./policyFile";

let controller: ServerController | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("Sandgate", { log: true });
  const trace = traceChannel("Sandgate Trace");
  const server = new ServerController(context, output, trace);
  controller = server;
  const view = new SuggestionsView(server);
  const snooze = new Snooze(context.globalState);
  server.inlinePaused = () => snooze.active;
  const statusItem = vscode.window.createStatusBarItem("sandgate.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "Sandgate";
  statusItem.command = "sandgate.menu";

  const renderStatus = () => {
    const shown = presentStatus(server.state, vscode.workspace.isTrusted);
    statusItem.text = snooze.active ? `${shown.text} · snoozed` : shown.text;
    statusItem.tooltip = new vscode.MarkdownString(shown.tooltip);
    statusItem.backgroundColor =
      shown.level === "normal" ? undefined : new vscode.ThemeColor(`statusBarItem.${shown.level}Background`);
    statusItem.show();
  };
  let refreshTimer: NodeJS.Timeout | undefined;
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void view.refresh(), 200);
  };

  const command = (id: string, run: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, run);
  context.subscriptions.push(
    output,
    trace,
    server,
    statusItem,
    view.register(),
    snooze,
    snooze.onDidChange(() => renderStatus()),
    registerSettingsCommand(context),
    registerOnboarding(context, server, output),
    command("sandgate.menu", () => showMenu(server, snooze)),
    registerSuggestionCommands(server, view),
    lastDecisionItem(server),
    watchSandgateFolder(context),
    server.onState(() => {
      renderStatus();
      refreshSoon();
    }),
    command("sandgate.setApiKey", async () => {
      const key = await vscode.window.showInputBox({
        title: "Sandgate: API key for the model endpoint",
        prompt: "Stored in VS Code's secret storage and passed only to the Sandgate server's environment. Leave empty to remove it.",
        password: true,
        ignoreFocusOut: true,
      });
      if (key === undefined) return;
      if (key.trim()) await context.secrets.store(API_KEY_SECRET, key.trim());
      else await context.secrets.delete(API_KEY_SECRET);
      await server.restart();
    }),
    command("sandgate.showPending", async () => {
      await vscode.commands.executeCommand("sandgate.suggestions.focus");
      await view.refresh();
    }),
    command("sandgate.refreshSuggestions", () => view.refresh()),
    command("sandgate.approvePending", (target?: unknown) => view.approve(target)),
    command("sandgate.discardPending", (target?: unknown) => view.discard(target)),
    command("sandgate.openPolicy", () => openPolicy(context)),
    command("sandgate.showAuditLog", () => showAuditLog()),
    command("sandgate.verifyAuditLog", async () => {
      try {
        const result = await server.executeCommand<VerifyResult>("sandgate.verifyAudit", []);
        if (result.ok) void vscode.window.showInformationMessage(`Sandgate audit log verified: ${result.message}`);
        else void vscode.window.showErrorMessage(`Sandgate audit log FAILED verification: ${result.message}`);
      } catch (error) {
        void vscode.window.showErrorMessage(`Sandgate: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
    command("sandgate.restartServer", () => server.restart()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void server.restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("sandgate.interpreter")) void server.restart();
    }),
    onPythonInterpreterChanged(() => {
      if (!vscode.workspace.getConfiguration("sandgate").get<string>("interpreter")) void server.restart();
    }),
    { dispose: () => clearTimeout(refreshTimer) },
  );
  renderStatus();
  void server.start();
}

export function deactivate(): Promise<unknown> | undefined {
  return controller?.stop();
}

async function pickFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) {
    if (!folders.length) void vscode.window.showWarningMessage("Sandgate: open a folder first.");
    return folders[0];
  }
  return vscode.window.showWorkspaceFolderPick({ placeHolder: "Which workspace folder?" });
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

async function openPolicy(context: vscode.ExtensionContext): Promise<void> {
  const folder = await pickFolder();
  if (!folder) return;
  const uri = await ensurePolicy(context.extensionUri, folder);
  await vscode.window.showTextDocument(uri);
  void maybeHintGitignore(context, folder);
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage("Sandgate: this workspace is restricted, so its policy is ignored until you trust it.");
  }
}

async function showAuditLog(): Promise<void> {
  const folder = await pickFolder();
  if (!folder) return;
  const uri = vscode.Uri.joinPath(folder.uri, ".sandgate", "audit.jsonl");
  if (!(await exists(uri))) {
    void vscode.window.showInformationMessage(`Sandgate: no audit log yet (${vscode.workspace.asRelativePath(uri)}).`);
    return;
  }
  await vscode.window.showTextDocument(uri, { preview: false });
}
