// Unit tests for the pure parts of onboarding: the server's log levels, the sandbox check's report and
// which settings are machine-scoped. Each input is what the real producer writes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { doctorReport, parseDoctor } from "../../src/doctor";
import { ServerLogParser } from "../../src/serverLog";
import { machineScoped } from "../../src/scopes";

test("server log lines keep their level and lose the server's timestamp", () => {
  const parser = new ServerLogParser();
  assert.deepEqual(parser.parse("2026-12-05 19:50:01,123 INFO sandgate.lsp.server: policy loaded"), { level: "info", message: "sandgate.lsp.server: policy loaded" });
  assert.deepEqual(parser.parse("2026-12-05 19:50:01,200 WARNING sandgate.sandbox: docker is slow"), { level: "warn", message: "sandgate.sandbox: docker is slow" });
  assert.deepEqual(parser.parse("2026-12-05 19:50:02,000 DEBUG pygls: sent"), { level: "debug", message: "pygls: sent" });
  assert.equal(parser.parse("2026-12-05 19:50:03,000 ERROR sandgate.lsp: vet failed").level, "error");
  // A traceback's lines follow their record's level.
  assert.deepEqual(parser.parse('  File "x.py", line 1, in <module>'), { level: "error", message: '  File "x.py", line 1, in <module>' });
  assert.equal(parser.parse("2026-12-05 19:50:04,000 INFO sandgate: fine again").level, "info");
  assert.equal(parser.parse("some print to stderr").level, "info");
  assert.equal(parser.parse("Traceback (most recent call last):").level, "error");
});

test("the format the server really logs with is recognised", (t) => {
  // cli/serve.py's formatter (its format string; the class may be a subclass), run by Python itself:
  // a change there that the parser misses fails here.
  const serve = path.resolve(__dirname, "../../../server/sandgate/cli/serve.py");
  const format = /Formatter\("([^"]+)"\)/.exec(fs.readFileSync(serve, "utf8"))?.[1];
  assert.ok(format, "serve.py's log format");
  let line: string;
  try {
    const code = `import logging,sys; h=logging.StreamHandler(sys.stdout); h.setFormatter(logging.Formatter(${JSON.stringify(format)})); l=logging.getLogger("sandgate.x"); l.addHandler(h); l.warning("careful")`;
    line = execFileSync("python3", ["-c", code], { encoding: "utf8" }).trim();
  } catch {
    t.skip("python3 not available");
    return;
  }
  assert.deepEqual(new ServerLogParser().parse(line), { level: "warn", message: "sandgate.x: careful" });
});

const DOCTOR_BROKEN = `no  docker  no Docker engine answers (Error while fetching server API version)
            fix: start a Docker engine (scripts/setup-sandbox.sh) or use the bwrap backend
no  bwrap   bubblewrap is not installed
            fix: install bubblewrap (apt install bubblewrap)
auto -> nothing: suggestions that need a run are held for review
`;

test("the sandbox check reads what works, what does not, and the fixes", () => {
  const { backends, auto } = parseDoctor(DOCTOR_BROKEN);
  assert.deepEqual(backends.map((b) => [b.name, b.works]), [["docker", false], ["bwrap", false]]);
  assert.equal(backends[1].fix, "install bubblewrap (apt install bubblewrap)");
  assert.match(auto ?? "", /^nothing/);
  const report = doctorReport("/env/bin/python", DOCTOR_BROKEN, 1);
  assert.match(report, /No sandbox works/);
  assert.match(report, /## How to fix it/);
  assert.match(report, /\/env\/bin\/python -m sandgate sandbox init/);
  assert.match(report, /sudo apt install bubblewrap/);
});

test("a working backend is named and no fix section is added when all work", () => {
  const ok = "ok  docker  Docker works (local engine)\nok  bwrap   bubblewrap works\nauto -> docker\n";
  const report = doctorReport("python3", ok, 0);
  assert.match(report, /run in \*\*docker\*\*/);
  assert.doesNotMatch(report, /How to fix/);
});

test("machine-scoped settings are told apart from window-scoped ones", () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"));
  const properties = pkg.contributes.configuration.properties;
  assert.equal(machineScoped("sandgate.model", properties), true);
  assert.equal(machineScoped("sandgate.interpreter", properties), true);
  assert.equal(machineScoped("sandgate.policy.preset", properties), false);
  assert.equal(machineScoped("sandgate.nothing", properties), false);
});
