// Getting started: the walkthrough (opened once), the sandbox check it links to, the short no-model
// notice with its buttons, and small commands the walkthrough and the status menu call.
import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { pythonEnv } from "./interpreter";
import { doctorReport, parseDoctor } from "./doctor";
import type { ServerController } from "./server";

const WALKTHROUGH = "sandgate.welcome";
const OPENED_KEY = "sandgate.walkthroughOpened";
const CHECK_SCHEME = "sandgate-check";

function runDoctor(python: string, cwd: string, isolated = false): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    execFile(python, ["-m", "sandgate", "sandbox", "doctor"], { cwd, env: pythonEnv({}, isolated), timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as NodeJS.ErrnoException).code ?? 1) : 0;
      resolve({ code: code as number | string, output: `${stdout}${stderr}` || (error?.message ?? "") });
    });
  });
}

export function registerOnboarding(context: vscode.ExtensionContext, server: ServerController, output: vscode.LogOutputChannel): vscode.Disposable {
  const reports = new Map<string, string>();
  const walkthroughId = `${context.extension.id}#${WALKTHROUGH}`;
  let toldNoModel = false;

  const checkSandbox = async () => {
    const python = server.interpreter?.path;
    if (!python) {
      void vscode.window.showWarningMessage("Sandgate: the server has not started yet, so the sandbox cannot be checked. See the Sandgate output.", "Show Output").then((c) => {
        if (c) output.show();
      });
      return;
    }
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Sandgate: checking the sandbox…" },
      () => runDoctor(python, context.globalStorageUri.fsPath, server.interpreter?.isolated),
    );
    output.info(`sandbox doctor (exit ${result.code}):\n${result.output.trimEnd()}`);
    const uri = vscode.Uri.from({ scheme: CHECK_SCHEME, path: "/Sandbox check.md" });
    reports.set(uri.path, doctorReport(python, result.output, result.code));
    changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: false });
    const { backends, auto } = parseDoctor(result.output);
    const summary = backends.map((b) => `${b.name} ${b.works ? "works" : "does not work"}`).join(", ");
    if (backends.some((b) => b.works)) {
      void vscode.window.showInformationMessage(`Sandgate sandbox: ${summary}; suggestions run in ${auto ?? "the first that works"}.`);
    } else {
      void vscode.window.showWarningMessage(`Sandgate sandbox: ${summary || "the check failed"}. Suggestions that need a run are held for review until one works; the check says how to fix it.`);
    }
  };

  const changed = new vscode.EventEmitter<vscode.Uri>();
  const disposables: vscode.Disposable[] = [
    changed,
    vscode.workspace.registerTextDocumentContentProvider(CHECK_SCHEME, {
      onDidChange: changed.event,
      provideTextDocumentContent: (uri) => reports.get(uri.path) ?? "",
    }),
    vscode.commands.registerCommand("sandgate.checkSandbox", checkSandbox),
    vscode.commands.registerCommand("sandgate.openWalkthrough", () => vscode.commands.executeCommand("workbench.action.openWalkthrough", walkthroughId, false)),
    vscode.commands.registerCommand("sandgate.showOutput", () => output.show()),
    vscode.commands.registerCommand("sandgate.showServerStatus", () => {
      const python = server.interpreter;
      const state = server.state;
      const running = state.kind === "running";
      const where = python ? `${python.path} (${python.source})` : "not chosen yet";
      const message = `Sandgate server: ${running ? "running" : state.kind}; Python: ${where}.`;
      if (running) void vscode.window.showInformationMessage(message);
      else void vscode.window.showWarningMessage(`${message} ${"detail" in state && state.detail ? state.detail : ""}`.trim(), "Show Output").then((c) => c && output.show());
    }),
    // No model: said once a session, short, with the two things to do.
    server.onState((state) => {
      if (toldNoModel || state.kind !== "running" || state.status?.provider !== "missing" || state.status.providerRefused) return;
      if (!vscode.workspace.getConfiguration("sandgate").get<boolean>("inline.enabled", true)) return;
      toldNoModel = true;
      void vscode.window.showInformationMessage("Sandgate: no model is set up, so there are no AI suggestions yet.", "Set Up Model", "Set API Key").then((choice) => {
        if (choice === "Set Up Model") void vscode.commands.executeCommand("sandgate.openSettings", "sandgate.model");
        if (choice === "Set API Key") void vscode.commands.executeCommand("sandgate.setApiKey");
      });
    }),
  ];

  // Opened once, on the first activation, for a user who has not set up a model yet (someone who has
  // needs no tour), unless walkthroughs on install are turned off where the extension can see that setting.
  const config = vscode.workspace.getConfiguration();
  const openOnInstall = config.get<boolean>("workbench.welcomePage.walkthroughs.openOnInstall", true);
  const modelSet = !!config.get<string>("sandgate.model.name") || !!process.env.SANDGATE_MODEL;
  if (openOnInstall && !modelSet && !context.globalState.get<boolean>(OPENED_KEY)) {
    void context.globalState.update(OPENED_KEY, true);
    void vscode.commands.executeCommand("workbench.action.openWalkthrough", walkthroughId, false);
  }
  return vscode.Disposable.from(...disposables);
}
