// What `sandgate sandbox doctor` found, read from its report, and the page the sandbox check shows.

export interface DoctorBackend {
  name: string;
  works: boolean;
  detail: string;
  fix?: string;
}

/** Reads `sandgate sandbox doctor`'s report: "ok|no <backend> <detail>", "fix: …", "auto -> <backend>". */
export function parseDoctor(text: string): { backends: DoctorBackend[]; auto?: string } {
  const backends: DoctorBackend[] = [];
  let auto: string | undefined;
  for (const line of text.split("\n")) {
    const probe = /^(ok|no)\s+(\S+)\s+(.*)$/.exec(line);
    const fix = /^\s+fix:\s*(.*)$/.exec(line);
    const chosen = /^auto -> (.*)$/.exec(line);
    if (probe) backends.push({ name: probe[2], works: probe[1] === "ok", detail: probe[3].trim() });
    else if (fix && backends.length) backends[backends.length - 1].fix = fix[1].trim();
    else if (chosen) auto = chosen[1].trim();
  }
  return { backends, auto };
}

const HOW_TO_FIX: Record<string, string> = {
  docker:
    "**Docker**: install Docker Engine (Linux) or Docker Desktop, start it, and check that your user can use it (`docker run --rm hello-world`). " +
    "Then build the sandbox image from this machine's Python: `{python} -m sandgate sandbox init`.",
  bwrap:
    "**bubblewrap** (Linux): install it (`sudo apt install bubblewrap`, `sudo dnf install bubblewrap`). " +
    "Where unprivileged user namespaces are off (some Ubuntu releases restrict them with AppArmor), allow them for `bwrap` or use Docker.",
};

export function doctorReport(python: string, output: string, exitCode: number | string): string {
  const { backends, auto } = parseDoctor(output);
  const lines = [`# Sandgate sandbox check`, "", `\`${python} -m sandgate sandbox doctor\` (exit ${exitCode}), ${new Date().toLocaleString()}:`, "", "```text", output.trimEnd(), "```", "", "## What it found", ""];
  for (const b of backends) lines.push(`- ${b.works ? "✅" : "❌"} **${b.name}**: ${b.detail}${b.fix ? ` — fix: ${b.fix}` : ""}`);
  const working = backends.filter((b) => b.works);
  lines.push(
    "",
    working.length
      ? `Suggestions that need a run are run in **${auto ?? working[0].name}** (setting \`sandgate.sandbox.backend\`: auto picks the first that works).`
      : "**No sandbox works**: Sandgate fails closed, so every suggestion that needs a run is held for your review.",
  );
  const broken = backends.filter((b) => !b.works && HOW_TO_FIX[b.name]);
  if (broken.length) {
    lines.push("", "## How to fix it", "", working.length ? "One working backend is enough; the other is optional." : "Make one of these work:", "");
    for (const b of broken) lines.push(`- ${HOW_TO_FIX[b.name].replace("{python}", python)}`);
    lines.push("", "Then run **Sandgate: Check the Sandbox** again and **Sandgate: Restart Server**.");
  }
  return lines.join("\n") + "\n";
}
