// sandgate-node-bootstrap: runs inside the sandbox under /usr/local/bin/node, before the suggestion.
// Shipped as node's `-e` argument (self-contained, Node's built-ins only).
//
// Start: the Python bootstrap (bootstrap.py) armed the supervisor's monitor and planted the
// sandbox's own honeytokens, then exec'd this Node; the seccomp filter stays on across exec, so the
// supervisor records everything Node does. The last argument is the control connection ("fd:N"):
// its closing means Sandgate is gone, and this process exits.
//
// Protocol: as bootstrap.py's (protocol.py): stdin carries one JSON header line, then the program's
// source until EOF; events go to `events_fd` as lines `marker + json + "\n"`. What this bootstrap
// reports is detail only: every promise is kept by the sandbox around it, and the findings that
// matter (connections, execs, writes, secrets read) come from the supervisor's record.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const url = require('node:url');
const vm = require('node:vm');
const Module = require('node:module');
const writeSync = fs.writeSync;
const stringify = JSON.stringify;

const ctlArg = process.argv[process.argv.length - 1] || '';
if (!ctlArg.startsWith('fd:')) {
  process.stderr.write('sandgate: the sandbox monitor could not be armed: no supervisor was named\n');
  process.exit(4);
}
// Parked until a program arrives; the supervisor closing our line means Sandgate is gone.
const ctl = new net.Socket({ fd: Number(ctlArg.slice(3)), readable: true, writable: false });
ctl.on('end', () => process.exit(0));
ctl.on('close', () => process.exit(0));
ctl.on('error', () => process.exit(0));

// Type stripping loads its compiler (swc, as WebAssembly) on first use: ~50 ms, paid here while a
// pooled sandbox waits rather than on a TypeScript run's time.
try { Module.stripTypeScriptTypes('let warm: number = 1;'); } catch (e) { /* an older Node: flagged at run */ }

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  ctl.removeAllListeners();
  ctl.destroy();
  main(Buffer.concat(chunks));
});

function main(raw) {
  const nl = raw.indexOf(10);
  const hdr = JSON.parse(raw.subarray(0, nl).toString('utf8'));
  const code = raw.subarray(nl + 1).toString('utf8');
  const FD = Number(hdr.events_fd);
  const MARK = hdr.marker;
  const WS = String(hdr.workspace).replace(/\/+$/, '');
  const FILE = WS + '/' + String(hdr.relpath).replace(/^\/+/, '');
  const state = { status: null, events: 0 };
  const MAX_EVENTS = 1000;

  function emit(ev) {
    if (state.events >= MAX_EVENTS) return;
    state.events += 1;
    if (state.events === MAX_EVENTS) ev = { kind: 'events-truncated' };
    try {
      writeSync(FD, MARK + stringify(ev) + '\n');
    } catch (e) {
      // the events pipe is gone: the supervisor's record still holds what happened
    }
  }

  if (hdr.end) emit({ kind: 'started' });

  // Honeytokens brought by the header (a sandbox made without its own): planted now, by this
  // still trusted code (one mkdir per folder, one open per file, as bootstrap.py's _plant).
  const honey = hdr.honey || {};
  if (hdr.honey) {
    for (const d of honey.dirs || []) {
      try { fs.mkdirSync(d, 0o700); } catch (e) { /* there already */ }
    }
    for (const [p, text] of honey.files || []) {
      try { fs.writeFileSync(p, text, { mode: 0o600 }); } catch (e) { /* not writable */ }
    }
    Object.assign(process.env, honey.env || {});
  }
  const honeyNames = new Set(Object.keys(honey.env || {}));
  // Planted with the sandbox: the Python bootstrap put them in the environment we inherited.
  for (const name of hdr.honey_names || []) honeyNames.add(name);

  // The way out, when there is one: a forwarder on this sandbox's 127.0.0.1 relaying to the
  // proxy's socket bound in by the backend (the sandbox has no interface but lo).
  if (hdr.egress) {
    try {
      const server = net.createServer({ pauseOnConnect: false }, (c) => {
        const up = net.connect(hdr.egress.unix);
        c.pipe(up);
        up.pipe(c);
        const done = () => { c.destroy(); up.destroy(); };
        c.on('error', done);
        up.on('error', done);
        c.on('close', done);
        up.on('close', done);
      });
      server.listen(Number(hdr.egress.port || 3128), '127.0.0.1');
      server.unref();
    } catch (e) {
      emit({ kind: 'egress-unavailable', where: 'sandbox', reason: String(e).slice(0, 200) });
    }
  }

  // Detail for the report: connections, name look-ups and process launches as the program names
  // them (a host name, before any look-up: the sandbox resolves nothing, the record sees no name).
  const egressPath = hdr.egress ? hdr.egress.unix : null;
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    try {
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      let host, port, unix;
      if (first && typeof first === 'object') {
        ({ host, port } = first);
        unix = first.path;
      } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
        unix = first;
      } else {
        port = Number(first);
        host = typeof args[1] === 'string' ? args[1] : 'localhost';
      }
      if (unix) {
        if (unix !== egressPath) emit({ kind: 'connect', family: 'AF_UNIX', host: String(unix), port: null });
      } else {
        host = String(host || 'localhost');
        const family = net.isIPv6(host) ? 'AF_INET6' : 'AF_INET';
        emit(net.isIP(host) ? { kind: 'connect', family, host, port: Number(port) } : { kind: 'dns', host, port: Number(port) || null });
      }
    } catch (e) { /* detail only */ }
    return connect.apply(this, args);
  };
  const dns = require('node:dns');
  const named = (host) => { if (typeof host === 'string' && !net.isIP(host)) emit({ kind: 'dns', host, port: null }); };
  for (const api of [dns, dns.promises]) {
    for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveTxt']) {
      const orig = api[name];
      if (typeof orig !== 'function') continue;
      api[name] = function (host, ...rest) { named(host); return orig.call(this, host, ...rest); };
    }
  }
  const cp = require('node:child_process');
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    const orig = cp[name];
    cp[name] = function (...args) {
      emit({ kind: 'spawn', how: name, argv: args.filter((a) => typeof a === 'string' || Array.isArray(a)).flat().map(String).slice(0, 20) });
      return orig.apply(this, args);
    };
  }
  if (honeyNames.size) {
    const env = process.env;
    process.env = new Proxy(env, {
      get(target, key) {
        if (typeof key === 'string' && honeyNames.has(key)) emit({ kind: 'honey-env', name: key });
        return Reflect.get(target, key);
      },
    });
  }

  // Node emits 'exit' before it prints an uncaught error: where the host stops reading at the
  // `exit` line (Docker), the error would be lost, and with it the words that name a limit.
  let fatal = null;
  process.on('uncaughtExceptionMonitor', (err) => { fatal = err; });

  function atExit(status) {
    if (hdr.end && fatal !== null) {
      let text;
      try { text = (fatal && fatal.stack) || String(fatal); } catch (e) { text = 'uncaught error'; }
      try { writeSync(2, text + '\n'); } catch (e) { /* closed */ }
    }
    try {
      const ru = process.resourceUsage();
      emit({ kind: 'rusage', maxrss_kb: ru.maxRSS });
    } catch (e) { /* detail only */ }
    if (hdr.end) {
      const line = MARK + stringify({ kind: 'exit', status }) + '\n';
      for (const fd of [1, 2]) {
        try { writeSync(fd, line); } catch (e) { /* closed */ }
      }
    }
  }

  // Which module system: the extension says, else the syntax (import/export: ESM).
  const ext = path.extname(FILE);
  const ts = ['.ts', '.mts', '.cts'].includes(ext);
  let source = code;
  if (ts) {
    try {
      source = stripTypes(code);
    } catch (e) {
      emit({ kind: 'syntax-error', msg: String(e.message || e).split('\n')[0].slice(0, 300), line: lineOf(e), col: 0 });
      process.exitCode = 3;
      atExit(3);
      return;
    }
  }
  let esm = ext === '.mjs' || ext === '.mts';
  if (!esm && ext !== '.cjs' && ext !== '.cts') {
    try {
      vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: FILE });
    } catch (e) {
      esm = e instanceof SyntaxError && /import|export|await/.test(String(e.message));
      if (!esm) {
        emit({ kind: 'syntax-error', msg: String(e.message).slice(0, 300), line: lineOf(e), col: 0 });
        process.exitCode = 3;
        atExit(3);
        return;
      }
    }
  }

  process.on('exit', atExit);
  emit({ kind: 'monitor', state: 'ready', runtime: 'node', module: esm ? 'esm' : 'commonjs' });
  try { process.chdir(fs.existsSync(WS) ? WS : hdr.scratch); } catch (e) { /* stay */ }
  process.argv = [process.execPath, FILE];
  // `node -e` makes its CommonJS names globals: a module (and ESM above all) sees none of them.
  for (const name of ['require', 'module', 'exports', '__filename', '__dirname']) delete globalThis[name];
  if (esm) {
    const fileUrl = url.pathToFileURL(FILE).href;
    // The program is served from memory under its workspace name: its relative imports resolve
    // against the workspace (read-only), and the file itself need not exist there yet.
    Module.registerHooks({
      resolve(specifier, context, next) {
        if (specifier === fileUrl) return { url: fileUrl, format: 'module', shortCircuit: true };
        return next(specifier, context);
      },
      load(u, context, next) {
        if (u === fileUrl) return { format: 'module', source, shortCircuit: true };
        return next(u, context);
      },
    });
    import(fileUrl).then(last, (e) => {
      if (e instanceof SyntaxError) emit({ kind: 'syntax-error', msg: String(e.message).slice(0, 300), line: lineOf(e), col: 0 });
      process.exitCode = e instanceof SyntaxError ? 3 : 1;
      process.stderr.write((e && e.stack) ? e.stack + '\n' : String(e) + '\n');
    });
  } else {
    const m = new Module(FILE, null);
    m.filename = FILE;
    m.paths = Module._nodeModulePaths(path.dirname(FILE));
    process.mainModule = m;
    m._compile(source, FILE);
    last();
  }

  // The final report comes after the exit handlers the program's body registered (a handler's
  // output must precede the `exit` line, where the host stops reading).
  function last() {
    process.removeListener('exit', atExit);
    process.on('exit', atExit);
  }

  // Types stripped in place (lines and columns kept). TypeScript with a run-time meaning (enum,
  // namespace, parameter properties) is refused by strip mode; it is transformed instead (its lines
  // may move), so that such a line cannot keep the rest of the program from running.
  function stripTypes(text) {
    try {
      return Module.stripTypeScriptTypes(text, { mode: 'strip' });
    } catch (e) {
      if (e && e.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') return Module.stripTypeScriptTypes(text, { mode: 'transform' });
      throw e;
    }
  }

  function lineOf(e) {
    const m = /:(\d+)/.exec(String(e.stack || ''));
    return m ? Number(m[1]) : 0;
  }
}
