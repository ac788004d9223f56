// The last decision, said briefly in the status bar: ghost text that was allowed with findings says
// so ("vetted in the sandbox (bwrap): 2 low findings"), a held or blocked one says what and why.
// VS Code gives ghost text no hover of its own, so this is where an allowed suggestion's vet is seen.
import * as vscode from "vscode";
import type { ServerController } from "./server";
import { presentDecision } from "./text";

export const SHOW_FOR_MS = 10_000;

export function lastDecisionItem(server: ServerController): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("sandgate.lastDecision", vscode.StatusBarAlignment.Right, 99);
  item.name = "Sandgate: last decision";
  item.command = "sandgate.showPending";
  let seen = 0;
  let timer: NodeJS.Timeout | undefined;
  const listener = server.onState((state) => {
    if (state.kind !== "running") seen = 0; // a restarted server counts from 1 again
    const last = state.kind === "running" ? state.status?.lastDecision : undefined;
    if (!last || last.seq === seen) return;
    seen = last.seq;
    const shown = presentDecision(last);
    item.text = shown.text;
    item.tooltip = shown.tooltip;
    item.show();
    clearTimeout(timer);
    timer = setTimeout(() => item.hide(), SHOW_FOR_MS);
  });
  return vscode.Disposable.from(item, listener, { dispose: () => clearTimeout(timer) });
}
