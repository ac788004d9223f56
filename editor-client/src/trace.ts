// vscode-languageclient 11 traces only into a LogOutputChannel whose log level is Trace. This adapter
// makes the `sandgate.trace.server` setting alone turn tracing on: it reports Trace while the setting is
// not "off" and writes every line to a plain output channel.
import * as vscode from "vscode";

const SETTING = "sandgate.trace.server";

export function traceChannel(name: string): vscode.LogOutputChannel & vscode.Disposable {
  const channel = vscode.window.createOutputChannel(name);
  const changed = new vscode.EventEmitter<vscode.LogLevel>();
  const level = () =>
    vscode.workspace.getConfiguration().get<string>(SETTING, "off") === "off" ? vscode.LogLevel.Info : vscode.LogLevel.Trace;
  const watcher = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(SETTING)) changed.fire(level());
  });
  const line = (tag: string) => (message: string | Error, ...args: unknown[]) =>
    channel.appendLine(`[${new Date().toISOString()}] [${tag}] ${message instanceof Error ? message.stack : message}${args.length ? ` ${JSON.stringify(args)}` : ""}`);
  return {
    name,
    get logLevel() {
      return level();
    },
    onDidChangeLogLevel: changed.event,
    trace: line("trace"),
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    append: (value: string) => channel.append(value),
    appendLine: (value: string) => channel.appendLine(value),
    replace: (value: string) => channel.replace(value),
    clear: () => channel.clear(),
    show: (preserveFocus?: unknown) => channel.show(preserveFocus === true),
    hide: () => channel.hide(),
    dispose: () => {
      watcher.dispose();
      changed.dispose();
      channel.dispose();
    },
  };
}
