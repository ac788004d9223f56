// The server the .vsix carries: bundled/wheels/ (scripts/bundle-server.sh) holds the sandgate wheel and
// every dependency at the locked version. On first start they are installed, offline, into a private
// virtual environment in the extension's global storage, made with the user's Python (>= 3.11). The
// environment is keyed by the extension's version and the wheels' digest: an upgrade makes a new one.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { type Interpreter, pythonExtensionInterpreter, pythonEnv, insideWorkspace } from "./interpreter";

export interface BundleManifest {
  sandgate: string;
  requirement: string;
  pip: string;
  pythons: string[];
  platforms: string[];
  digest: string;
  wheels: string[];
}

export type BundledResult =
  | { ok: true; interpreter: Interpreter }
  | { ok: false; kind: "no-python" | "unsupported" | "install-failed"; message: string; detail: string };

const MIN_PYTHON: [number, number] = [3, 11];
const INSTALL_TIMEOUT_MS = 5 * 60_000;

/** The manifest of the bundled wheels; undefined in a build without them (a development checkout). */
export function bundleManifest(extensionPath: string): BundleManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(extensionPath, "bundled", "wheels", "manifest.json"), "utf8")) as BundleManifest;
  } catch {
    return undefined;
  }
}

/** This machine as the manifest names platforms (`linux-x64`). */
export function platformTag(): string {
  return `${process.platform}-${process.arch}`;
}

interface PythonInfo {
  path: string;
  version: string;
  ok: boolean;
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd: string; timeout: number }): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? ((error as NodeJS.ErrnoException).code ?? 1) : 0;
      resolve({ code: code as number | string, stdout: String(stdout), stderr: String(stderr || (error ? error.message : "")) });
    });
  });
}

async function probePython(candidate: string, cwd: string): Promise<PythonInfo | undefined> {
  const code = `import sys; print("%d.%d" % sys.version_info[:2]); print(sys.executable)`;
  const result = await run(candidate, ["-c", code], { cwd, env: pythonEnv({}, true), timeout: 20_000 });
  if (result.code !== 0) return undefined;
  const [version, executable] = result.stdout.trim().split("\n");
  const [major, minor] = version.split(".").map(Number);
  const ok = major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
  return { path: executable?.trim() || candidate, version, ok };
}

/** The Python extension's selected interpreter if it is >= 3.11, else python3 / python on PATH. */
async function findBasePython(cwd: string): Promise<{ found?: PythonInfo; tried: string[] }> {
  const tried: string[] = [];
  const candidates: string[] = [];
  const selected = await pythonExtensionInterpreter();
  // A restricted workspace must not pick the program we run (e.g. its own .venv/bin/python).
  if (selected && (vscode.workspace.isTrusted || !insideWorkspace(selected))) candidates.push(selected);
  candidates.push("python3", "python");
  for (const candidate of candidates) {
    const info = await probePython(candidate, cwd);
    tried.push(info ? `${candidate} (Python ${info.version})` : `${candidate} (not found)`);
    if (info?.ok) return { found: info, tried };
  }
  return { tried };
}

/** pip run from the bundled wheel, told to use nothing but the bundled wheels. */
function pipEnv(): NodeJS.ProcessEnv {
  const env = pythonEnv({}, true);
  for (const key of Object.keys(env)) if (key.startsWith("PIP_")) delete env[key];
  // No pip configuration file (mirrors, constraints) of the machine applies to this install.
  return { ...env, PIP_CONFIG_FILE: os.devNull, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
}

export class BundledServer {
  private readonly manifest: BundleManifest | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.manifest = bundleManifest(context.extensionPath);
  }

  get available(): boolean {
    return this.manifest !== undefined;
  }

  private get root(): string {
    return path.join(this.context.globalStorageUri.fsPath, "env");
  }

  /** One environment per extension version and set of wheels. */
  private get key(): string {
    const version = (this.context.extension.packageJSON as { version?: string }).version ?? "0";
    return `${version}-${this.manifest?.digest.slice(0, 12) ?? "none"}`;
  }

  envPython(dir = path.join(this.root, this.key)): string {
    return process.platform === "win32" ? path.join(dir, "Scripts", "python.exe") : path.join(dir, "bin", "python");
  }

  /** The private environment's Python, made first if need be (with a progress notification). */
  async ensure(): Promise<BundledResult> {
    const manifest = this.manifest;
    if (!manifest) throw new Error("no bundled server in this build");
    const storage = this.context.globalStorageUri.fsPath;
    fs.mkdirSync(this.root, { recursive: true });
    const target = path.join(this.root, this.key);
    const python = this.envPython(target);
    const interpreter = { path: python, source: `the bundled server (sandgate ${manifest.sandgate})`, isolated: true };
    if (fs.existsSync(path.join(target, "sandgate-env.json")) && (await probePython(python, storage))?.ok) {
      return { ok: true, interpreter };
    }
    if (!manifest.platforms.includes(platformTag())) {
      return {
        ok: false,
        kind: "unsupported",
        message: `Sandgate's bundled server has wheels for ${manifest.platforms.join(", ")} only, not this machine (${platformTag()}). Install Sandgate as a tool (pipx install or uv tool install, from a checkout or a wheel) and set “sandgate.interpreter” to its Python.`,
        detail: "",
      };
    }
    const { found, tried } = await findBasePython(storage);
    if (!found) {
      return {
        ok: false,
        kind: "no-python",
        message: `Sandgate needs Python ${MIN_PYTHON.join(".")} or newer to run its server, and found none (tried ${tried.join(", ")}). Install Python ${MIN_PYTHON.join(".")}+ or select one in the Python extension, or set “sandgate.interpreter”.`,
        detail: tried.join("\n"),
      };
    }
    if (!manifest.pythons.includes(found.version)) {
      return {
        ok: false,
        kind: "unsupported",
        message: `Sandgate's bundled server has wheels for Python ${manifest.pythons.join(", ")}; ${found.path} is Python ${found.version}. Select one of those in the Python extension, or set “sandgate.interpreter” to a Python with Sandgate installed (pipx or uv tool).`,
        detail: tried.join("\n"),
      };
    }
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Sandgate: setting up its server (first start, about a minute at most)…" },
      () => this.build(manifest, found, target, interpreter),
    );
  }

  private async build(manifest: BundleManifest, base: PythonInfo, target: string, interpreter: Interpreter): Promise<BundledResult> {
    const storage = this.context.globalStorageUri.fsPath;
    const wheels = path.join(this.context.extensionPath, "bundled", "wheels");
    // Made beside the target and renamed into place: another window starting at the same time makes its
    // own, and whichever renames second keeps the first one's. A half-made environment is never used.
    const staging = fs.mkdtempSync(path.join(this.root, `.staging-${this.key}-`));
    const fail = (message: string, detail: string): BundledResult => {
      fs.rmSync(staging, { recursive: true, force: true });
      this.output.error(`${message}\n${detail}`);
      return { ok: false, kind: "install-failed", message, detail };
    };
    this.output.info(`Making Sandgate's private environment with ${base.path} (Python ${base.version}) from the bundled wheels in ${target}`);
    const venv = await run(base.path, ["-m", "venv", "--without-pip", staging], { cwd: storage, env: pythonEnv({}, true), timeout: 120_000 });
    if (venv.code !== 0) {
      return fail(`Sandgate could not make a virtual environment with ${base.path}.`, venv.stderr.trim());
    }
    const stagedPython = this.envPython(staging);
    const pip = path.join(wheels, manifest.pip, "pip");
    const install = await run(
      stagedPython,
      [pip, "install", "--no-index", "--find-links", wheels, "--only-binary=:all:", "--no-cache-dir", "--disable-pip-version-check", "--quiet", manifest.requirement],
      { cwd: storage, env: pipEnv(), timeout: INSTALL_TIMEOUT_MS },
    );
    if (install.code !== 0) {
      const last = install.stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? String(install.code);
      return fail(`Sandgate could not install its bundled server into ${staging}: ${last}`, install.stderr.trim());
    }
    fs.writeFileSync(
      path.join(staging, "sandgate-env.json"),
      JSON.stringify({ base: base.path, python: base.version, sandgate: manifest.sandgate, digest: manifest.digest, made: new Date().toISOString() }, null, 2),
    );
    try {
      fs.renameSync(staging, target);
    } catch {
      // Another window finished first (or an unusable leftover is in the way): keep a working one.
      if ((await probePython(this.envPython(target), storage))?.ok && fs.existsSync(path.join(target, "sandgate-env.json"))) {
        fs.rmSync(staging, { recursive: true, force: true });
      } else {
        fs.rmSync(target, { recursive: true, force: true });
        fs.renameSync(staging, target);
      }
    }
    this.output.info(`Sandgate's private environment is ready: ${this.envPython(target)}`);
    this.removeOthers();
    return { ok: true, interpreter };
  }

  /** Environments of earlier versions, and staging leftovers older than an hour. */
  private removeOthers(): void {
    const hour = Date.now() - 60 * 60_000;
    for (const name of fs.readdirSync(this.root)) {
      const dir = path.join(this.root, name);
      const stale = name.startsWith(".staging-") ? fs.statSync(dir).mtimeMs < hour : name !== this.key;
      if (stale) fs.rm(dir, { recursive: true, force: true }, () => undefined);
    }
  }
}
