// The status bar item's menu: what a user reaches for while working (pending suggestions, snooze, preset,
// policy, key, output, restart), in one quick pick.
import * as vscode from "vscode";
import type { ServerController } from "./server";
import type { Snooze } from "./snooze";

interface MenuItem extends vscode.QuickPickItem {
  run?: () => unknown;
}

const PRESETS: Record<string, string> = {
  strict: "Holds any MEDIUM or LOW finding, every spawned process and dynamic code execution; blocks what balanced blocks.",
  balanced: "Shows what is very likely harmless, holds what might not be, blocks what is clearly dangerous (the default).",
  permissive: "Blocks only what is clearly dangerous (secrets, denied connections, writes outside scratch); holds HIGH findings.",
};

export function menuItems(server: ServerController, snooze: Snooze): MenuItem[] {
  const config = vscode.workspace.getConfiguration("sandgate");
  const status = server.state.kind === "running" ? server.state.status : undefined;
  const pending = status?.pending ?? 0;
  const enabled = config.get<boolean>("inline.enabled", true);
  const until = snooze.until;
  const preset = status?.preset ?? config.get<string>("policy.preset", "balanced");
  const items: MenuItem[] = [
    {
      label: "$(list-unordered) Show Pending Suggestions",
      description: `${pending} held for review`,
      run: () => vscode.commands.executeCommand("sandgate.showPending"),
    },
    { label: "Suggestions", kind: vscode.QuickPickItemKind.Separator },
  ];
  if (until) {
    items.push({
      label: "$(play) Resume Suggestions",
      description: `snoozed until ${new Date(until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`,
      run: () => snooze.resume(),
    });
  } else if (enabled) {
    items.push({ label: "$(debug-pause) Snooze Suggestions for 30 Minutes", run: () => snooze.snooze(30) });
  }
  items.push({
    label: enabled ? "$(circle-slash) Turn Suggestions Off" : "$(check) Turn Suggestions On",
    description: "sandgate.inline.enabled",
    run: () => config.update("inline.enabled", !enabled, vscode.ConfigurationTarget.Global),
  });
  items.push(
    { label: "Policy", kind: vscode.QuickPickItemKind.Separator },
    { label: "$(shield) Policy Preset…", description: preset, run: () => pickPreset(preset) },
    { label: "$(file-code) Open Workspace Policy", run: () => vscode.commands.executeCommand("sandgate.openPolicy") },
    { label: "Set-up", kind: vscode.QuickPickItemKind.Separator },
    { label: "$(key) Set API Key", run: () => vscode.commands.executeCommand("sandgate.setApiKey") },
    { label: "$(beaker) Check the Sandbox", run: () => vscode.commands.executeCommand("sandgate.checkSandbox") },
    { label: "$(settings-gear) Open Settings", run: () => vscode.commands.executeCommand("sandgate.openSettings") },
    { label: "$(book) Get Started with Sandgate", run: () => vscode.commands.executeCommand("sandgate.openWalkthrough") },
    { label: "Server", kind: vscode.QuickPickItemKind.Separator },
    { label: "$(output) Show Output", run: () => vscode.commands.executeCommand("sandgate.showOutput") },
    { label: "$(debug-restart) Restart Server", run: () => vscode.commands.executeCommand("sandgate.restartServer") },
  );
  return items;
}

export async function showMenu(server: ServerController, snooze: Snooze): Promise<void> {
  const picked = await vscode.window.showQuickPick(menuItems(server, snooze), { title: "Sandgate", placeHolder: "What do you want to do?" });
  await picked?.run?.();
}

async function pickPreset(current: string): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    Object.entries(PRESETS).map(([name, detail]) => ({ label: name, description: name === current ? "current" : undefined, detail })),
    { title: "Sandgate: policy preset (under the workspace and managed policies)" },
  );
  if (picked) await vscode.workspace.getConfiguration("sandgate").update("policy.preset", picked.label, vscode.ConfigurationTarget.Global);
}
