// Bundles the extension (and vscode-languageclient) into dist/extension.js;
// with --unit, bundles test/unit/*.test.ts into dist/unit/ for `node --test`.
import { build } from "esbuild";
import fs from "node:fs";

const common = { bundle: true, format: "cjs", platform: "node", target: "node20", logLevel: "info" };

if (process.argv.includes("--unit")) {
  const entryPoints = fs.readdirSync("test/unit").filter((f) => f.endsWith(".test.ts")).map((f) => `test/unit/${f}`);
  await build({ ...common, entryPoints, outdir: "dist/unit", external: ["vscode"] });
} else {
  await build({
    ...common,
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.js",
    external: ["vscode"],
    sourcemap: true,
    minify: process.argv.includes("--minify"),
  });
  // The policy schema ships with the extension: "Open Workspace Policy" puts it beside the policy.
  fs.copyFileSync("../policies/policy.schema.json", "dist/policy.schema.json");
}
