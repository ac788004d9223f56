// Opens the Settings editor where a Sandgate setting lives. Machine-scoped settings (where code goes: the
// interpreter, the model endpoint, telemetry) are read from the Remote tab in a remote window
// (code-server, Remote-SSH, WSL, Codespaces); the User tab would show values that do not apply there.
import * as vscode from "vscode";
import { machineScoped, type SettingSchema } from "./scopes";

export function registerSettingsCommand(context: vscode.ExtensionContext): vscode.Disposable {
  const properties = ((context.extension.packageJSON as { contributes?: { configuration?: { properties?: Record<string, SettingSchema> } } })
    .contributes?.configuration?.properties ?? {}) as Record<string, SettingSchema>;
  return vscode.commands.registerCommand("sandgate.openSettings", async (query?: string) => {
    const filter = query || `@ext:${context.extension.id}`;
    if (vscode.env.remoteName && (!query || machineScoped(query, properties))) {
      await vscode.commands.executeCommand("workbench.action.openRemoteSettings", { query: filter });
    } else {
      await vscode.commands.executeCommand("workbench.action.openSettings", filter);
    }
  });
}
