// Configuration and small helpers shared by the queue workers.
const fs = require("node:fs");
const path = require("node:path");
const os = require("node:os");
const http = require("node:http");
const dns = require("node:dns");
const cp = require("node:child_process");

interface Config {
  port: number;
  dataDir: string;
  logLevel: "debug" | "info" | "warn";
}

const DEFAULTS: Config = { port: 8080, dataDir: path.join(__dirname, "data"), logLevel: "info" };

function loadConfig(file: string = path.join(__dirname, "config.json")): Config {
  // <fill load>
}

class TaskQueue<T> {
  private items: Array<() => Promise<T>> = [];
  private running = 0;
  readonly concurrency: number;

  constructor(concurrency = 4) {
    this.concurrency = concurrency;
  }

  // <fill method>
}

// <fill end>

module.exports = { loadConfig, TaskQueue, DEFAULTS };
