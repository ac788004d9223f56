// Unit tests for the pure status-bar presentation (bundled by esbuild.mjs --unit, run with node --test).
import assert from "node:assert/strict";
import { test } from "node:test";
import { presentStatus } from "../../src/status";

test("shows preset, backend and pending count", () => {
  const view = presentStatus({ kind: "running", status: { preset: "balanced", backend: "bwrap", pending: 2, trusted: true, failClosed: [] } }, true);
  assert.equal(view.text, "$(shield) Sandgate: balanced · bwrap · 2 pending");
  assert.equal(view.level, "normal");
});

test("warns and says why when failing closed", () => {
  const view = presentStatus({ kind: "running", status: { preset: "strict", backend: "docker", pending: 0, failClosed: ["no sandbox backend available", "no model provider configured"] } }, true);
  assert.equal(view.level, "warning");
  assert.match(view.text, /^\$\(warning\) /);
  assert.match(view.tooltip, /no sandbox backend available/);
  assert.match(view.tooltip, /no model provider configured/);
  // True of every reason: an audit log that cannot be written holds nothing either.
  assert.match(view.tooltip, /Failing closed\*\* — no suggestion is shown unvetted or unrecorded, because:/);
});

test("says restricted when the workspace is not trusted, from either side", () => {
  const status = { preset: "strict", backend: "bwrap", pending: 0 };
  assert.match(presentStatus({ kind: "running", status }, false).text, /Sandgate \(restricted\): strict/);
  assert.match(presentStatus({ kind: "running", status: { ...status, trusted: false } }, true).text, /restricted/);
  assert.doesNotMatch(presentStatus({ kind: "running", status: { ...status, trusted: true } }, true).text, /restricted/);
});

test("an interpreter without Sandgate is an error state", () => {
  const view = presentStatus({ kind: "not-installed", detail: "Sandgate is not installed in /usr/bin/python3" }, true);
  assert.equal(view.level, "error");
  assert.match(view.text, /not installed/);
});

test("lists the languages Sandgate cannot vet, without a warning of their own", () => {
  const languages = [{ language: "javascript", handling: "skip", message: "javascript: Sandgate cannot vet it yet, so no suggestions are asked for" }];
  const view = presentStatus({ kind: "running", status: { preset: "balanced", backend: "bwrap", pending: 0, failClosed: [], languages } }, true);
  assert.equal(view.level, "normal");
  assert.match(view.tooltip, /Not vetted/);
  assert.match(view.tooltip, /javascript: Sandgate cannot vet it yet, so no suggestions are asked for/);
});

test("a failed vet is a warning, with the reason", () => {
  const status = { preset: "balanced", backend: "bwrap", pending: 1, failClosed: ["the last vet failed (odd.py): could not be vetted"], vetError: { path: "odd.py", message: "could not be vetted" } };
  const view = presentStatus({ kind: "running", status }, true);
  assert.equal(view.level, "warning");
  assert.match(view.tooltip, /the last vet failed \(odd.py\)/);
});
