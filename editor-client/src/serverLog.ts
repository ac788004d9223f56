// The server's stderr, line by line, into the Sandgate output channel at the level the server logged it.
// The server formats records as "<date> <time>,<ms> <LEVEL> <logger>: <message>" (cli/serve.py); the
// channel adds its own timestamp and level, so both are taken off the line. vscode-languageclient's
// default would tag every stderr line [error] and keep the server's timestamp too.
import * as readline from "node:readline";
import type { Readable } from "node:stream";
import type { LogOutputChannel } from "vscode";

export type Level = "trace" | "debug" | "info" | "warn" | "error";

const RECORD = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;
const LEVELS: Record<string, Level> = { DEBUG: "debug", INFO: "info", WARNING: "warn", ERROR: "error", CRITICAL: "error" };

/** Reads lines of one stream; a line that is not a record (a traceback's) keeps the level before it. */
export class ServerLogParser {
  private last: Level = "info";

  parse(line: string): { level: Level; message: string } {
    const record = RECORD.exec(line);
    if (record) {
      this.last = LEVELS[record[1]];
      return { level: this.last, message: record[2] };
    }
    // Python's own report of an uncaught exception starts so, outside any record.
    if (line.startsWith("Traceback (most recent call last)")) this.last = "error";
    return { level: this.last, message: line };
  }
}

export function pipeServerLog(input: Readable, channel: LogOutputChannel): void {
  const parser = new ServerLogParser();
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
    .on("line", (line) => {
      const { level, message } = parser.parse(line);
      channel[level](message);
    });
}
