// Unit tests for the pure helpers of text.ts (the last decision, the .gitignore hint).
import assert from "node:assert/strict";
import { test } from "node:test";
import { presentDecision, withSandgateIgnored } from "../../src/text";

test("an allowed suggestion with findings says what its vet found", () => {
  const view = presentDecision({ seq: 3, decision: "allow", message: "allowed, vetted in the sandbox (bwrap): 2 low findings", findings: "2 low findings", path: "a.py" });
  assert.equal(view.text, "$(info) AI suggestion allowed, vetted in the sandbox (bwrap): 2 low findings");
  assert.match(view.tooltip, /a\.py/);
  assert.match(presentDecision({ seq: 1, decision: "allow", message: "allowed, vetted in the sandbox (bwrap): no findings", findings: "" }).text, /^\$\(pass\) /);
});

test("a held or blocked one says so, shortened", () => {
  assert.match(presentDecision({ seq: 1, decision: "review", message: "held for review: adds: deserializes with pickle.loads" }).text, /^\$\(eye\) AI suggestion held for review: adds/);
  const long = presentDecision({ seq: 2, decision: "block", message: `blocked: ${"x".repeat(200)}` });
  assert.match(long.text, /^\$\(error\) AI suggestion blocked: x+…$/);
  assert.ok(long.text.length < 100);
});

test(".gitignore gets Sandgate's lines once, keeping the policy shared", () => {
  assert.equal(withSandgateIgnored(""), "# Sandgate: the audit log and local files stay out of the repository; the workspace policy is shared.\n.sandgate/*\n!.sandgate/policy.toml\n");
  const added = withSandgateIgnored("node_modules/");
  assert.ok(added?.startsWith("node_modules/\n\n# Sandgate"));
  assert.equal(withSandgateIgnored(added ?? ""), undefined);
  assert.equal(withSandgateIgnored("dist\n.sandgate/\n"), undefined);
  assert.equal(withSandgateIgnored("/.sandgate\n"), undefined);
  assert.notEqual(withSandgateIgnored(".sandgate/audit.jsonl\n"), undefined);
});
