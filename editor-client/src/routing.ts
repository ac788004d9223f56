// Routes the server's generic actions to the extension's own screens. The server speaks plain LSP so
// that every editor can review a held suggestion (an edit that needs confirmation, then
// `sandgate.approve`); in VS Code that edit would open the Refactor Preview with its box unticked, where
// Apply without ticking does nothing, silently. Here every approval goes through the one flow instead
// (`approval.ts`: a diff and a modal), Fix with AI opens its diff straight away, and a suppression
// asks for the reason that goes into the audit log.
import * as vscode from "vscode";
import type { Middleware } from "vscode-languageclient/node";

/** Extension commands the rewritten actions and lenses run (registered in `commands.ts`). */
export const REVIEW = "sandgate.reviewSuggestion";
export const SHOW_DETAILS = "sandgate.showSuggestionDetails";
export const FIX = "sandgate.fixFinding";
export const SUPPRESS = "sandgate.suppressWithReason";

/** The server command of each action, and what the extension runs instead. */
const ROUTES: Record<string, string> = {
  "sandgate.approve": REVIEW,
  "sandgate.review": REVIEW,
  "sandgate.showDetails": SHOW_DETAILS,
  "sandgate.fixWithAI": FIX,
};

export function reroute(action: vscode.CodeAction | vscode.Command): vscode.CodeAction | vscode.Command {
  if (!(action instanceof vscode.CodeAction) || !action.command) return action;
  const command = action.command;
  if (command.command === "sandgate.recordSuppression") {
    // The edit is applied by the command, once the user said why.
    const rerouted = new vscode.CodeAction(`${action.title}…`, action.kind);
    rerouted.diagnostics = action.diagnostics;
    rerouted.command = { title: action.title, command: SUPPRESS, arguments: [command.arguments?.[0], action.edit] };
    return rerouted;
  }
  const target = ROUTES[command.command];
  if (!target) return action;
  // No edit: nothing is inserted until the user confirms in the diff's modal.
  const rerouted = new vscode.CodeAction(action.title, action.kind);
  rerouted.diagnostics = action.diagnostics;
  rerouted.isPreferred = action.isPreferred;
  rerouted.command = { title: command.title, command: target, arguments: command.arguments };
  return rerouted;
}

export function rerouteLens(lens: vscode.CodeLens): vscode.CodeLens {
  const target = lens.command ? ROUTES[lens.command.command] : undefined;
  if (lens.command && target) lens.command = { ...lens.command, command: target };
  return lens;
}

export const middleware: Middleware = {
  async provideCodeActions(document, range, context, token, next) {
    const actions = await next(document, range, context, token);
    return actions?.map(reroute);
  },
  async provideCodeLenses(document, token, next) {
    const lenses = await next(document, token);
    return lenses?.map(rerouteLens);
  },
};
