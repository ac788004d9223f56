// Real VS Code (code-server) in headless Chromium, with the Sandgate .vsix installed as a user would.
// See shared/notes/real-vscode.md for why each flag is here.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const EDITOR_CLIENT = path.resolve(here, "../..");
export const REPO = path.resolve(EDITOR_CLIENT, "..");
export const ARTIFACTS = path.join(REPO, "artifacts", "e2e");
const CACHE = process.env.SANDGATE_E2E_CACHE || "/opt/sandgate-e2e";
export const CODE_SERVER = process.env.SANDGATE_CODE_SERVER || path.join(CACHE, "bin", "code-server");
export const PYTHON = process.env.SANDGATE_PYTHON || path.join(REPO, ".venv", "bin", "python");
export const VSIX = process.env.SANDGATE_VSIX || path.join(EDITOR_CLIENT, "sandgate.vsix");

const children = new Set();
function killGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
}
process.on("exit", () => children.forEach(killGroup));

/** Starts a process in its own process group; `stop()` ends the group. */
function startGroup(command, args, { logFile, env } = {}) {
  const out = logFile ? fs.openSync(logFile, "a") : "ignore";
  const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out], env: env ?? process.env });
  children.add(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    child,
    async stop() {
      killGroup(child);
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, timeoutMs, isAlive) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process serving ${url} exited`);
    try {
      const res = await fetch(url, { redirect: "manual" });
      if (res.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

export function mkdtemp(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * The loopback OpenAI-format model server (tests/support/openai_server.py), answering from
 * `script` ({prompt substring: completion}); with `apiKey`, requests without that bearer key get 401.
 */
export async function startOpenAiServer(script, dir, { apiKey } = {}) {
  const port = await freePort();
  const scriptFile = path.join(dir, "openai-script.json");
  fs.writeFileSync(scriptFile, JSON.stringify(script, null, 2));
  const server = process.env.SANDGATE_E2E_OPENAI_SERVER || path.join(REPO, "tests", "support", "openai_server.py");
  const args = [server, "--port", String(port), "--script", scriptFile, ...(apiKey ? ["--api-key", apiKey] : [])];
  const proc = startGroup(PYTHON, args, { logFile: path.join(ARTIFACTS, "openai-server.log") });
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  await waitForHttp(`${baseUrl}/models`, 15000, () => proc.child.exitCode === null);
  return {
    baseUrl,
    /** The JSON bodies the model server received, in order. */
    requests: async () => (await fetch(`http://127.0.0.1:${port}/_fake/requests`)).json(),
    stop: () => proc.stop(),
  };
}

/**
 * A fresh code-server with its own user-data dir and the .vsix installed through
 * `--install-extension`. `trust: false` keeps workspace trust on (restricted mode reachable).
 */
export async function startCodeServer({ name, settings, trust = true }) {
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} missing: run npm run package in editor-client/`);
  const root = mkdtemp(`sandgate-e2e-${name}-`);
  const userData = path.join(root, "user-data");
  const extensions = path.join(root, "extensions");
  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
  const common = ["--user-data-dir", userData, "--extensions-dir", extensions];
  const install = spawnSync(CODE_SERVER, [...common, "--install-extension", VSIX], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`installing the .vsix failed:\n${install.stdout}\n${install.stderr}`);

  const port = await freePort();
  const args = [
    "--auth", "none",
    "--bind-addr", `127.0.0.1:${port}`,
    ...common,
    "--disable-telemetry",
    "--disable-update-check",
    ...(trust ? ["--disable-workspace-trust"] : []),
  ];
  // The extension runs what the interpreter has installed, nothing a PYTHONPATH of the test run points at.
  const env = { ...process.env };
  delete env.PYTHONPATH;
  const proc = startGroup(CODE_SERVER, args, { logFile: path.join(ARTIFACTS, `code-server-${name}.log`), env });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60000, () => proc.child.exitCode === null);
  return {
    url: `http://127.0.0.1:${port}`,
    userData,
    /** The "Sandgate" output channel as the extension host logged it. */
    outputLog() {
      const logs = path.join(userData, "logs");
      if (!fs.existsSync(logs)) return "";
      return fs
        .readdirSync(logs, { recursive: true })
        .filter((f) => String(f).endsWith(path.join("sandgate.sandgate", "Sandgate.log")))
        .map((f) => fs.readFileSync(path.join(logs, String(f)), "utf8"))
        .join("\n");
    },
    async stop() {
      await proc.stop();
      // Keep the extension host's logs (the Sandgate output channel is among them) with the screenshots.
      const logs = path.join(userData, "logs");
      if (fs.existsSync(logs)) fs.cpSync(logs, path.join(ARTIFACTS, "logs", name), { recursive: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.SANDGATE_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Wraps a Playwright page with the VS Code gestures the tests need, and numbered screenshots. */
export class Workbench {
  constructor(page, prefix) {
    this.page = page;
    this.prefix = prefix;
    this.shot = 0;
  }

  static async open(browser, server, folder, prefix) {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const page = await context.newPage();
    await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
    await page.waitForSelector(".statusbar", { timeout: 60000 });
    return new Workbench(page, prefix);
  }

  async screenshot(step) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    this.shot += 1;
    const file = path.join(ARTIFACTS, `${this.prefix}-${String(this.shot).padStart(2, "0")}-${step}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Gives the keyboard back to the active editor (Ctrl+1: first editor group). */
  async focusEditor() {
    await this.press("Control+1");
    await this.page.locator(".editor-instance .monaco-editor.focused").first().waitFor({ timeout: 10000 });
  }

  async press(keys) {
    await this.page.keyboard.press(keys);
  }

  async quickInputRow(text) {
    const row = this.page.locator(".quick-input-widget .monaco-list-row", { hasText: text }).first();
    await row.waitFor({ state: "visible", timeout: 15000 });
    return row;
  }

  /**
   * Opens `name` with Quick Open until it is the active, focused editor. Tried again when something else
   * takes the editor area or the keyboard meanwhile (a walkthrough or a notification opening late does).
   */
  async openFile(name, timeoutMs = 60000) {
    const input = this.page.locator(".quick-input-widget input");
    await eventually(
      async () => {
        // Ctrl+P on an open Quick Open would move its selection instead: open it only when it is closed.
        if (!(await input.isVisible())) await this.press("Control+P");
        await input.waitFor({ state: "visible", timeout: 10000 });
        await input.fill(name);
        await (await this.quickInputRow(name)).waitFor();
        // Enter opens the focused row: wait until the filter has put the file there (not a recent one).
        await this.page
          .locator(".quick-input-widget .monaco-list-row.focused", { hasText: name })
          .first()
          .waitFor({ state: "visible", timeout: 15000 });
        await this.press("Enter");
        await this.page.locator(".tab.active", { hasText: name }).waitFor({ timeout: 15000 });
        await this.page.locator(".editor-instance .monaco-editor.focused").waitFor({ timeout: 15000 });
        return true;
      },
      { timeoutMs, intervalMs: 500, message: `${name} open in the focused editor` },
    );
  }

  async runCommand(title) {
    await this.press("Control+Shift+P");
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    await input.fill(`>${title}`);
    await (await this.quickInputRow(title)).waitFor();
    await this.press("Enter");
  }

  /** Text of the Problems panel (opened with Ctrl+Shift+M). */
  async problems() {
    const panel = this.page.locator(".markers-panel");
    if (!(await panel.isVisible())) {
      await this.press("Control+Shift+M");
      await panel.waitFor({ state: "visible", timeout: 15000 });
      await this.focusEditor();
    }
    return panel.innerText();
  }

  async waitForProblems(predicate, timeoutMs = 60000) {
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await this.problems();
      if (predicate(text)) return text;
      await this.page.waitForTimeout(500);
    }
    throw new Error(`Problems panel never matched; last text:\n${text}`);
  }

  /** The Sandgate status bar item's text. */
  async status() {
    const item = this.page.locator(".statusbar-item", { hasText: "Sandgate" }).first();
    await item.waitFor({ timeout: 30000 });
    return item.innerText();
  }

  async waitForStatus(predicate, timeoutMs = 60000) {
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await this.status().catch(() => "");
      if (predicate(text)) return text;
      await this.page.waitForTimeout(500);
    }
    throw new Error(`status bar never matched; last text: ${JSON.stringify(text)}`);
  }

  ghostText() {
    return this.page.locator(".editor-instance .monaco-editor .ghost-text-decoration, .editor-instance .monaco-editor .ghost-text");
  }

  /** Moves to the end of the active editor and types `text` line by line (Enter between lines). */
  async typeAtEnd(text) {
    await this.press("Control+End");
    await this.page.keyboard.type(text);
  }

  async save() {
    await this.press("Control+S");
    await this.page.waitForTimeout(500);
  }

  /**
   * A notification with `text`: its toast, or, once the toast has timed out (an information message
   * hides after a while), its entry in the Notification Center.
   */
  async notification(text, timeoutMs = 30000) {
    const toast = this.page.locator(".notification-toast", { hasText: text }).first();
    const listed = this.page.locator(".notifications-center .notification-list-item", { hasText: text }).first();
    return eventually(
      async () => {
        if (await toast.isVisible()) return toast;
        if (!(await this.page.locator(".notifications-center").isVisible())) await this.runCommand("Notifications: Show Notifications");
        await listed.waitFor({ state: "visible", timeout: 3000 });
        return listed;
      },
      { timeoutMs, intervalMs: 1000, message: `the notification "${text}"` },
    );
  }

  /** Types `value` into the text setting `key` of the open Settings editor, and waits until it is saved. */
  async setSetting(key, value) {
    const item = this.page.locator(`.settings-editor [data-key="${key}"]`).first();
    const input = item.locator(".setting-item-control input").first();
    await input.waitFor({ state: "visible", timeout: 20000 });
    await input.fill(value);
    await this.press("Tab");
    // Saved: the settings editor marks the setting as set in the open scope.
    await this.page.locator(`.settings-editor [data-key="${key}"].is-configured`).first().waitFor({ timeout: 20000 });
    assert.equal(await input.inputValue(), value, `setting ${key}`);
  }

  /** Closes the Settings editor (it may open as a modal over the editors, which keeps the keyboard). */
  async closeSettings() {
    const settings = this.page.locator(".settings-editor");
    await eventually(
      async () => {
        if (!(await settings.isVisible())) return true;
        const close = this.page.locator(".monaco-modal-editor-block .codicon-close, .modal-editor-part .codicon-close").first();
        if (await close.isVisible()) await close.click();
        else await this.runCommand("View: Close Editor");
        return !(await settings.isVisible());
      },
      { timeoutMs: 20000, intervalMs: 1000, message: "the Settings editor closed" },
    );
  }

  /** Clicks a button of the modal dialog (web dialogs are DOM, not native). */
  async dialogButton(label) {
    const button = this.page.locator(".monaco-dialog-box .monaco-button", { hasText: label }).first();
    await button.waitFor({ state: "visible", timeout: 20000 });
    return button;
  }

  async close() {
    await this.page.context().close();
  }
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually(fn, { timeoutMs = 30000, intervalMs = 300, message = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${message} not reached in ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}
