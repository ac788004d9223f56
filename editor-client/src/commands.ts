// The commands behind the rerouted actions and lenses (`routing.ts`): review a held suggestion or a
// vetted fix in the one approval flow, show why a suggestion was blocked, Fix with AI straight to its
// diff, and a suppression with the reason the user gives (recorded in the audit log).
import * as vscode from "vscode";
import { messageOf, Reviewable } from "./approval";
import type { FixAnswer } from "./protocol";
import { reasonText } from "./protocol";
import { FIX, REVIEW, SHOW_DETAILS, SUPPRESS } from "./routing";
import type { ServerController } from "./server";
import type { SuggestionsView } from "./suggestions";

interface FindingArgs {
  uri: string;
  version?: number;
  finding?: { rule?: string; source?: string; line?: number };
}

interface SuppressArgs {
  uri: string;
  source?: string;
  rule?: string;
  line?: number;
}

export function registerSuggestionCommands(server: ServerController, view: SuggestionsView): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand(REVIEW, (ref?: { token?: string }) => review(view, ref)),
    vscode.commands.registerCommand(SHOW_DETAILS, (ref?: { id?: string }) => showDetails(view, ref)),
    vscode.commands.registerCommand(FIX, (args: FindingArgs) => fixFinding(server, view, args)),
    vscode.commands.registerCommand(SUPPRESS, (args: SuppressArgs, edit?: vscode.WorkspaceEdit) => suppress(server, args, edit)),
  );
}

async function review(view: SuggestionsView, ref?: { token?: string }): Promise<void> {
  const s = ref?.token ? await view.find({ token: ref.token }) : undefined;
  if (!s || !s.token || s.text === null) {
    void vscode.window.showWarningMessage("Sandgate: that suggestion is no longer held for review.");
    return;
  }
  try {
    await view.flow.review(s as Reviewable);
  } finally {
    await view.refresh();
  }
}

async function showDetails(view: SuggestionsView, ref?: { id?: string }): Promise<void> {
  const s = ref?.id ? await view.find({ id: ref.id }) : undefined;
  if (!s) {
    void vscode.window.showWarningMessage("Sandgate: that suggestion is no longer known.");
    return;
  }
  const blocked = s.decision === "block";
  const reasons = (s.reasons ?? []).map((r) => `• ${reasonText(r)}`);
  const title = `${blocked ? "AI suggestion blocked" : "AI suggestion held for review"}: ${s.headline ?? ""}`;
  const detail = [
    `Why (${reasons.length}):`,
    ...reasons,
    "",
    blocked ? "The blocked code is never shown or inserted. Every decision is in the audit log." : "",
  ].join("\n");
  const choice = await vscode.window.showWarningMessage(title, { modal: true, detail }, "Show in Suggestions View");
  if (choice) await vscode.commands.executeCommand("sandgate.showPending");
}

async function fixFinding(server: ServerController, view: SuggestionsView, args: FindingArgs): Promise<void> {
  const rule = args.finding?.rule ?? "the finding";
  let answer: FixAnswer;
  try {
    answer = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Sandgate: asking the model to fix ${rule} and vetting the fix…` },
      () => server.executeCommand<FixAnswer>("sandgate.fixWithAI", [{ ...args, quiet: true }]),
    );
  } catch (error) {
    void vscode.window.showErrorMessage(`Sandgate: Fix with AI failed: ${messageOf(error)}`);
    return;
  }
  if (answer.offered && answer.token) {
    // Straight to the diff: the fix was vetted; the user sees it and decides in one step.
    const fix = await view.find({ token: answer.token });
    if (fix && fix.text !== null) {
      await view.flow.review({ ...fix, kind: "fix", verified: answer.verified } as Reviewable);
      await view.refresh();
      return;
    }
  }
  if (answer.proposed !== undefined && answer.range) {
    await view.flow.showRefused(args.uri, answer.range, answer.proposed, answer.message);
    return;
  }
  void vscode.window.showWarningMessage(`Sandgate: ${answer.message}`);
}

async function suppress(server: ServerController, args: SuppressArgs, edit?: vscode.WorkspaceEdit): Promise<void> {
  const reason = await vscode.window.showInputBox({
    title: `Sandgate: suppress ${args.rule} on line ${args.line}`,
    prompt: "Why is this finding safe here? The reason goes into the audit log with the suppression.",
    placeHolder: "e.g. cmd comes from our own configuration, never from a user",
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim().length < 3 ? "Say why, in a few words." : undefined),
  });
  if (reason === undefined) return;
  if (edit && !(await vscode.workspace.applyEdit(edit))) {
    void vscode.window.showErrorMessage("Sandgate: the suppression could not be written.");
    return;
  }
  try {
    const result = await server.executeCommand<{ ok: boolean; recorded?: boolean; message?: string }>("sandgate.recordSuppression", [
      { ...args, reason },
    ]);
    if (!result.ok) void vscode.window.showWarningMessage(`Sandgate: ${result.message ?? "the suppression was not recorded."}`);
    else if (!result.recorded) void vscode.window.showWarningMessage("Sandgate: suppressed, but there is no audit log to record it in.");
    else void vscode.window.showInformationMessage(`Sandgate: ${args.rule} suppressed on line ${args.line}; your reason is in the audit log.`);
  } catch (error) {
    void vscode.window.showErrorMessage(`Sandgate: the suppression was not recorded: ${messageOf(error)}`);
  }
}
