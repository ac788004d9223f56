// Snoozing inline suggestions from the status menu: nothing is asked of the model until the time is up.
// Kept in global state so a reload does not wake them early; the setting sandgate.inline.enabled stays as
// the user left it.
import * as vscode from "vscode";

const KEY = "sandgate.snoozedUntil";

export class Snooze implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento) {
    this.arm();
  }

  get until(): number | undefined {
    const until = this.state.get<number>(KEY);
    return until && until > Date.now() ? until : undefined;
  }

  get active(): boolean {
    return this.until !== undefined;
  }

  async snooze(minutes: number): Promise<void> {
    await this.state.update(KEY, Date.now() + minutes * 60_000);
    this.arm();
    this.changed.fire();
  }

  async resume(): Promise<void> {
    await this.state.update(KEY, undefined);
    this.arm();
    this.changed.fire();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const until = this.until;
    if (until) this.timer = setTimeout(() => void this.resume(), until - Date.now());
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.changed.dispose();
  }
}
