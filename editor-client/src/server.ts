// Starts, supervises and restarts `<python> -m sandgate serve`.
import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from "vscode-languageclient/node";
import { BundledServer, type BundledResult } from "./bundled";
import { checkInstalled, configuredInterpreter, type Interpreter, pythonEnv, resolveInterpreter } from "./interpreter";
import { PendingSuggestions, pendingSuggestionsRequest, statusNotification } from "./protocol";
import { pipeServerLog } from "./serverLog";
import { middleware } from "./routing";
import type { ClientState } from "./status";

export const API_KEY_SECRET = "sandgate.apiKey";

// Back-off between restarts of a crashed server; more crashes than this within CRASH_WINDOW_MS: give up.
const BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000];
const CRASH_WINDOW_MS = 3 * 60_000;

export class ServerController implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private crashes: number[] = [];
  private stopping = false;
  private everRan = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stateEmitter = new vscode.EventEmitter<ClientState>();
  readonly onState = this.stateEmitter.event;
  state: ClientState = { kind: "stopped" };
  /** The Python the server last ran with (or was to run with). */
  interpreter: Interpreter | undefined;
  /** While true, inline suggestions are not asked for (the status menu's snooze). */
  inlinePaused: () => boolean = () => false;
  readonly bundled: BundledServer;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly trace: vscode.LogOutputChannel,
  ) {
    this.bundled = new BundledServer(context, output);
  }

  start(): Promise<unknown> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<unknown> {
    return this.enqueue(() => this.doStop());
  }

  restart(): Promise<unknown> {
    this.crashes = [];
    return this.enqueue(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  async executeCommand<T>(command: string, args: unknown[]): Promise<T> {
    return this.running().sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  }

  async pendingSuggestions(): Promise<PendingSuggestions | undefined> {
    if (this.client?.state !== State.Running) return undefined;
    return this.client.sendRequest(pendingSuggestionsRequest, {});
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
  }

  private running(): LanguageClient {
    if (this.client?.state !== State.Running) {
      throw new Error("The Sandgate server is not running. Run “Sandgate: Restart Server” or see the Sandgate output.");
    }
    return this.client;
  }

  private enqueue(job: () => Promise<void>): Promise<unknown> {
    this.queue = this.queue.then(job, job);
    return this.queue;
  }

  private setState(state: ClientState): void {
    this.state = state;
    this.stateEmitter.fire(state);
  }

  private async doStart(): Promise<void> {
    if (this.client) return;
    this.setState({ kind: "starting" });
    // Run from the extension's own storage: never from the workspace, whose files must not be imported.
    const cwd = this.context.globalStorageUri.fsPath;
    fs.mkdirSync(cwd, { recursive: true });

    const python = await this.resolvePython();
    if (!python) return;
    this.interpreter = python;
    const check = await checkInstalled(python.path, cwd, python.isolated);
    if (!check.ok) {
      this.reportNotInstalled(python.path, python.source, check.kind, check.detail);
      return;
    }
    this.output.info(`Starting ${python.path} -m sandgate serve (sandgate ${check.version}; interpreter from ${python.source}; workspace ${vscode.workspace.isTrusted ? "trusted" : "restricted"})`);

    const apiKey = await this.context.secrets.get(API_KEY_SECRET);
    // The key travels only in the child's environment: never in settings or initialization options.
    const env = pythonEnv(apiKey ? { OPENAI_API_KEY: apiKey } : {}, python.isolated);
    const serverOptions: ServerOptions = {
      command: python.path,
      args: ["-m", "sandgate", "serve"],
      // No `transport`: with TransportKind.stdio the client would append `--stdio` to the arguments.
      options: { cwd, env },
    };
    const clientOptions: LanguageClientOptions = {
      // Every language: the server vets Python and, for the others, says in the status that it does
      // not (the policy's `languages.unvetted` decides whether it asks the model at all).
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }, { scheme: "vscode-notebook-cell", language: "python" }],
      synchronize: { configurationSection: "sandgate" },
      // modelSetup: the extension offers the model set-up itself (onboarding.ts), so the server does not tell it.
      initializationOptions: { trusted: vscode.workspace.isTrusted, clientName: vscode.env.appName, statusNotification: true, modelSetup: true },
      outputChannel: this.output,
      stdioOptions: { stdout: pipeServerLog, stderr: pipeServerLog },
      middleware: {
        ...middleware,
        provideInlineCompletionItems: (document, position, context, token, next) =>
          this.inlinePaused() ? undefined : next(document, position, context, token),
      },
      traceOutputChannel: this.trace,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(),
      },
      initializationFailedHandler: () => false,
    };
    const client = new LanguageClient("sandgate", "Sandgate", serverOptions, clientOptions);
    client.onNotification(statusNotification, (status) => this.setState({ kind: "running", status }));
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) this.everRan = true;
      if (e.newState === State.Running && this.state.kind !== "running") this.setState({ kind: "running" });
    });
    this.client = client;
    this.everRan = false;
    try {
      await client.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.output.error(`The Sandgate server failed to start: ${message}`);
      this.client = undefined;
      await client.dispose(2000).catch(() => undefined);
      this.setState({ kind: "failed", detail: `The Sandgate server failed to start: ${message}` });
      void vscode.window
        .showErrorMessage(`Sandgate: the server failed to start (${message}).`, "Show Output", "Restart Server")
        .then((choice) => this.onFailureChoice(choice));
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      await client.dispose(2000);
    } catch (error) {
      this.output.warn(`Stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.stopping = false;
      this.setState({ kind: "stopped" });
    }
  }

  private async onClosed(): Promise<CloseHandlerResult> {
    // A server that never finished initializing is reported by doStart, not restarted.
    if (this.stopping || !this.client || !this.everRan) return { action: CloseAction.DoNotRestart, handled: true };
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const attempt = this.crashes.length;
    if (attempt > BACKOFF_MS.length) {
      const detail = `The Sandgate server crashed ${attempt} times in ${CRASH_WINDOW_MS / 60_000} minutes; it was not restarted.`;
      this.output.error(detail);
      this.setState({ kind: "failed", detail });
      void vscode.window.showErrorMessage(`Sandgate: ${detail}`, "Show Output", "Restart Server").then((c) => this.onFailureChoice(c));
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const delay = BACKOFF_MS[attempt - 1];
    this.output.warn(`The Sandgate server exited; restarting in ${delay / 1000} s (attempt ${attempt}).`);
    this.setState({ kind: "starting", detail: `The server exited; restarting in ${delay / 1000} s…` });
    await new Promise((resolve) => setTimeout(resolve, delay));
    return this.stopping ? { action: CloseAction.DoNotRestart, handled: true } : { action: CloseAction.Restart, handled: true };
  }

  /** `sandgate.interpreter`, else the bundled server's private environment, else (no bundle) as before. */
  private async resolvePython(): Promise<Interpreter | undefined> {
    const configured = configuredInterpreter();
    if (configured || !this.bundled.available) return configured ?? resolveInterpreter();
    this.setState({ kind: "starting", detail: "Setting up the bundled Sandgate server…" });
    let result: BundledResult;
    try {
      result = await this.bundled.ensure();
    } catch (error) {
      result = { ok: false, kind: "install-failed", message: `Sandgate could not set up its bundled server: ${error instanceof Error ? error.message : String(error)}`, detail: "" };
    }
    if (result.ok) return result.interpreter;
    this.output.error(`${result.message}${result.detail ? `\n${result.detail}` : ""}`);
    this.setState({ kind: "not-installed", detail: result.message });
    const actions = result.kind === "install-failed" ? ["Retry", "Set Interpreter", "Show Output"] : ["Set Interpreter", "Show Output"];
    void vscode.window.showErrorMessage(result.message, ...actions).then((choice) => {
      if (choice === "Retry") void this.restart();
      else if (choice === "Set Interpreter") void vscode.commands.executeCommand("sandgate.openSettings", "sandgate.interpreter");
      else if (choice === "Show Output") this.output.show();
    });
    return undefined;
  }

  private reportNotInstalled(python: string, source: string, kind: "no-interpreter" | "not-installed", detail: string): void {
    const install = `${python} -m pip install sandgate`;
    const message =
      kind === "no-interpreter"
        ? `Sandgate: the Python interpreter “${python}” (${source}) was not found. Set “sandgate.interpreter” to the Python that has Sandgate installed.`
        : `Sandgate is not installed in ${python} (${source}). Install it with “${install}”, or set “sandgate.interpreter” to a Python that has it.`;
    this.output.error(`${message}\n${detail}`);
    this.setState({ kind: "not-installed", detail: message });
    const actions = kind === "not-installed" ? ["Copy Install Command", "Open Settings"] : ["Open Settings"];
    void vscode.window.showErrorMessage(message, ...actions, "Show Output").then(async (choice) => {
      if (choice === "Copy Install Command") {
        await vscode.env.clipboard.writeText(install);
      } else if (choice === "Open Settings") {
        await vscode.commands.executeCommand("sandgate.openSettings", "sandgate.interpreter");
      } else if (choice === "Show Output") {
        this.output.show();
      }
    });
  }

  private onFailureChoice(choice: string | undefined): void {
    if (choice === "Show Output") this.output.show();
    if (choice === "Restart Server") void this.restart();
  }
}
