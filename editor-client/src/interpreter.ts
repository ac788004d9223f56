// Which Python runs `sandgate serve`, and whether Sandgate is installed in it.
import { execFile } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { PVSC_EXTENSION_ID as PYTHON_EXTENSION_ID, PythonExtension } from "@vscode/python-extension";

export interface Interpreter {
  path: string;
  /** Where the choice came from, for messages. */
  source: string;
  /** The bundled server's private environment: it runs only what it holds (no PYTHONPATH, no PYTHONHOME). */
  isolated?: boolean;
}

export type InstallCheck =
  | { ok: true; version: string }
  | { ok: false; kind: "no-interpreter" | "not-installed"; detail: string };

/** The `sandgate.interpreter` setting, if set: it wins over the bundled server. */
export function configuredInterpreter(): Interpreter | undefined {
  const configured = vscode.workspace.getConfiguration("sandgate").get<string>("interpreter", "").trim();
  if (!configured) return undefined;
  return { path: configured.replace(/^~(?=$|\/)/, os.homedir()), source: "setting sandgate.interpreter" };
}

/**
 * Without a bundled server (a development build): `sandgate.interpreter`, else the Python extension's
 * selected interpreter, else `python3`.
 */
export async function resolveInterpreter(): Promise<Interpreter> {
  const configured = configuredInterpreter();
  if (configured) return configured;
  const selected = await pythonExtensionInterpreter();
  // A restricted workspace must not pick the program we run (e.g. its own .venv/bin/python).
  if (selected && (vscode.workspace.isTrusted || !insideWorkspace(selected))) {
    return { path: selected, source: "the Python extension's selected interpreter" };
  }
  return { path: "python3", source: "default" };
}

/** The Python extension's typed API, activating it if need be; undefined where it is not installed. */
async function pythonApi(): Promise<PythonExtension | undefined> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return undefined;
  try {
    return await PythonExtension.api();
  } catch {
    return undefined;
  }
}

export async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const api = await pythonApi();
  if (!api) return undefined;
  try {
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const active = api.environments.getActiveEnvironmentPath(resource);
    const resolved = await api.environments.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}

/**
 * Fires when the Python extension's selection changes (never without that extension). Subscribes
 * once the extension's API is there, whichever of the two extensions activates first, so a late
 * activation does not lose the event.
 */
export function onPythonInterpreterChanged(listener: () => void): vscode.Disposable {
  let subscription: vscode.Disposable | undefined;
  let disposed = false;
  void pythonApi().then((api) => {
    if (!api || disposed) return;
    subscription = api.environments.onDidChangeActiveEnvironmentPath(() => listener());
  });
  return new vscode.Disposable(() => {
    disposed = true;
    subscription?.dispose();
  });
}

export function insideWorkspace(file: string): boolean {
  return (vscode.workspace.workspaceFolders ?? []).some((f) => {
    const rel = path.relative(f.uri.fsPath, file);
    return !rel.startsWith("..") && !path.isAbsolute(rel);
  });
}

/**
 * Environment for anything we run with the interpreter: PYTHONSAFEPATH keeps the working
 * directory off sys.path, so a workspace cannot shadow the `sandgate` package. `isolated` (the bundled
 * server's environment, and the Python that makes it) also drops PYTHONPATH and PYTHONHOME, so packages
 * of the user's own set-up cannot shadow the bundled ones.
 */
export function pythonEnv(extra: Record<string, string> = {}, isolated = false): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONSAFEPATH: "1", ...extra };
  if (isolated) {
    delete env.PYTHONPATH;
    delete env.PYTHONHOME;
  }
  return env;
}

/** Runs `<python> -c "import sandgate"` outside the workspace. */
export function checkInstalled(python: string, cwd: string, isolated = false): Promise<InstallCheck> {
  const code = "import sandgate; print(getattr(sandgate, '__version__', '?'))";
  return new Promise((resolve) => {
    execFile(python, ["-c", code], { cwd, env: pythonEnv({}, isolated), timeout: 30_000 }, (error, stdout, stderr) => {
      if (!error) return resolve({ ok: true, version: stdout.trim() });
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno === "ENOENT" || errno === "EACCES") {
        return resolve({ ok: false, kind: "no-interpreter", detail: String(error.message) });
      }
      resolve({ ok: false, kind: "not-installed", detail: (stderr || error.message).trim() });
    });
  });
}
