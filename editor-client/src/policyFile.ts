// The workspace's .sandgate/ folder as the user meets it: "Open Workspace Policy" writes a template
// that explains every key (media/policy-template.toml) with the policy's JSON schema beside it (the
// template's first line, `#:schema ./policy.schema.json`, is how Even Better TOML and taplo find it),
// and, once per workspace, a hint to keep Sandgate's local files (the audit log) out of git.
import * as vscode from "vscode";
import { withSandgateIgnored } from "./text";

const HINT_KEY = "sandgate.gitignoreHint.shown";
async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** Creates the policy from the template when there is none, puts the schema beside it; returns its URI. */
export async function ensurePolicy(extensionUri: vscode.Uri, folder: vscode.WorkspaceFolder): Promise<vscode.Uri> {
  const dir = vscode.Uri.joinPath(folder.uri, ".sandgate");
  const uri = vscode.Uri.joinPath(dir, "policy.toml");
  // The schema of this version of Sandgate, refreshed each time (it is ignored by git, not edited).
  const schema = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(extensionUri, "dist", "policy.schema.json")).then(
    (bytes) => bytes,
    () => undefined,
  );
  if (schema) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(dir, "policy.schema.json"), schema);
  if (!(await exists(uri))) {
    const template = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(extensionUri, "media", "policy-template.toml"));
    await vscode.workspace.fs.writeFile(uri, template);
  }
  return uri;
}

/** Once per workspace: when .sandgate/ exists in a git repository that does not ignore it, offer to. */
let hinting = false;

export async function maybeHintGitignore(context: vscode.ExtensionContext, folder: vscode.WorkspaceFolder): Promise<void> {
  if (hinting || context.workspaceState.get<boolean>(HINT_KEY)) return;
  hinting = true;
  try {
    await hint(context, folder);
  } finally {
    hinting = false;
  }
}

async function hint(context: vscode.ExtensionContext, folder: vscode.WorkspaceFolder): Promise<void> {
  const root = folder.uri;
  if (!(await exists(vscode.Uri.joinPath(root, ".sandgate"))) || !(await exists(vscode.Uri.joinPath(root, ".git")))) return;
  const file = vscode.Uri.joinPath(root, ".gitignore");
  const current = (await exists(file)) ? new TextDecoder().decode(await vscode.workspace.fs.readFile(file)) : "";
  const updated = withSandgateIgnored(current);
  await context.workspaceState.update(HINT_KEY, true);
  if (updated === undefined) return;
  const choice = await vscode.window.showInformationMessage(
    "Sandgate keeps its audit log in .sandgate/. Keep it out of git (the workspace policy stays shared)?",
    "Add to .gitignore",
    "Not Now",
  );
  if (choice !== "Add to .gitignore") return;
  // Read again: the file may have changed while the message was up.
  const now = (await exists(file)) ? new TextDecoder().decode(await vscode.workspace.fs.readFile(file)) : "";
  const text = withSandgateIgnored(now);
  if (text !== undefined) await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(text));
  void vscode.window.showInformationMessage("Sandgate: .gitignore now keeps .sandgate/ out (except policy.toml).");
}

/** Watches for .sandgate/ appearing (the server writes the audit log there) and hints once. */
export function watchSandgateFolder(context: vscode.ExtensionContext): vscode.Disposable {
  const check = () => {
    for (const folder of vscode.workspace.workspaceFolders ?? []) void maybeHintGitignore(context, folder);
  };
  const watcher = vscode.workspace.createFileSystemWatcher("**/.sandgate/*", false, true, true);
  watcher.onDidCreate(check);
  check();
  return watcher;
}
