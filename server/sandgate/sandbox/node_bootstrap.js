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

// What an exercise needs, made while a pooled sandbox waits rather than on the run's time (~10 ms):
// the registry's per-run name, an in-process inspector session with its profiler on (coverage
// starts only for a run with an exercise), the context the calls run in.
const prepared = {};
try {
  prepared.key = 'sandgate.exercise.' + require('node:crypto').randomBytes(8).toString('hex');
  prepared.timers = require('node:timers');
  prepared.Worker = require('node:worker_threads').Worker;
  prepared.promisedTimers = require('node:timers/promises');
  prepared.callCtx = vm.createContext({});
  prepared.callScript = new vm.Script('sandgateCall()', { filename: 'sandgate-exercise' });
  const inspector = require('node:inspector');
  prepared.sessionPost = inspector.Session.prototype.post;
  prepared.session = new inspector.Session();
  prepared.session.connect();
  prepared.session.post('Profiler.enable');
  // Started now: it drops the code compiled so far (V8 recompiles with block counters), which
  // costs 5-40 ms; what compiles after (the program) is counted. A run without lines to follow
  // stops it.
  prepared.session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  prepared.covering = true;
} catch (e) {
  prepared.error = String(e).slice(0, 200);
}

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
  const state = { status: null, events: 0, in: null };
  const MAX_EVENTS = 1000;
  const SPAN = Array.isArray(hdr.span) ? hdr.span : null;
  const FILE_URL = url.pathToFileURL(FILE).href;
  // Events worth saying where they happened: which exercised function, which line of the suggestion.
  const PLACED = new Set(['connect', 'dns', 'spawn', 'honey-env', 'standin-call', 'standin-module', 'open-read', 'open-write']);
  const captureStack = Error.captureStackTrace;

  function where(ev) {
    if (state.in !== null) ev.in = state.in;
    if (!SPAN) return;
    const limit = Error.stackTraceLimit;
    const holder = {};
    try {
      Error.stackTraceLimit = 64;
      captureStack(holder, where);
    } finally {
      Error.stackTraceLimit = limit;
    }
    for (const frame of String(holder.stack || '').split('\n')) {
      const m = /\(?((?:file:\/\/)?\/[^()]*?):(\d+):\d+\)?$/.exec(frame);
      if (!m || (m[1] !== FILE && m[1] !== FILE_URL)) continue;
      const line = Number(m[2]);
      if (line >= SPAN[0] && line <= SPAN[1]) { ev.line = line; return; }
    }
  }

  function emit(ev) {
    if (state.events >= MAX_EVENTS) return;
    if (PLACED.has(ev.kind)) {
      try { where(ev); } catch (e) { /* detail only */ }
    }
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
  // The command line as the system call will see it (a shell's `sh -c …`), so that the report and
  // the supervisor's record of one launch compare equal and the finding keeps its place.
  function commandLine(name, args) {
    const [file, second, third] = args;
    if (name === 'exec' || name === 'execSync') return ['/bin/sh', '-c', String(file)];
    if (name === 'fork') return [process.execPath, String(file), ...(Array.isArray(second) ? second : []).map(String)];
    const list = Array.isArray(second) ? second.map(String) : [];
    const options = Array.isArray(second) ? third : second;
    const shell = options && typeof options === 'object' && options.shell;
    if (shell) return [typeof shell === 'string' ? shell : '/bin/sh', '-c', [String(file), ...list].join(' ')];
    return [String(file), ...list];
  }
  let launching = false; // exec calls execFile: one launch, one event
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    const orig = cp[name];
    cp[name] = function (...args) {
      if (launching) return orig.apply(this, args);
      try {
        emit({ kind: 'spawn', how: name, argv: commandLine(name, args).slice(0, 20) });
      } catch (e) { /* detail only */ }
      launching = true;
      try {
        return orig.apply(this, args);
      } finally {
        launching = false;
      }
    };
  }
  // Files the program opens outside the workspace and scratch, with where it opened them (the
  // supervisor records the same opens, without a place).
  const SCRATCH = String(hdr.scratch).replace(/\/+$/, '');
  const QUIET = ['/dev/', '/proc/self/', '/usr/', '/opt/', '/etc/localtime', '/etc/passwd', '/etc/group', '/etc/nsswitch.conf'];
  const resolvePath = path.resolve;
  function fileEvent(p, writing) {
    try {
      let text = p instanceof URL ? url.fileURLToPath(p) : Buffer.isBuffer(p) ? p.toString('utf8') : p;
      if (typeof text !== 'string') return;
      text = resolvePath(text);
      const under = (root) => text === root || text.startsWith(root + '/');
      if (under(SCRATCH)) return;
      if (writing) emit({ kind: 'open-write', path: text, in_scratch: false });
      else if (!under(WS) && !QUIET.some((q) => text.startsWith(q) || text === q)) emit({ kind: 'open-read', path: text });
    } catch (e) { /* detail only */ }
  }
  const writesBy = (flags) =>
    (typeof flags === 'string' && /[wa+]/.test(flags)) ||
    (typeof flags === 'number' && (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC)) !== 0);
  const FILE_APIS = [
    [fs, ['readFileSync', 'readFile', 'createReadStream'], () => false],
    [fs, ['writeFileSync', 'writeFile', 'appendFileSync', 'appendFile', 'createWriteStream'], () => true],
    [fs, ['openSync', 'open'], (args) => writesBy(args[1])],
    [fs.promises, ['readFile'], () => false],
    [fs.promises, ['writeFile', 'appendFile'], () => true],
    [fs.promises, ['open'], (args) => writesBy(args[1])],
  ];
  for (const [api, methods, writing] of FILE_APIS) {
    for (const name of methods) {
      const orig = api[name];
      if (typeof orig !== 'function') continue;
      api[name] = function (...args) {
        fileEvent(args[0], writing(args));
        return orig.apply(this, args);
      };
    }
  }

  // Node's own copy of the environment for a child process (normalizeSpawnArguments) is not the
  // program reading the planted variables: the frame that asked is one of Node's internals.
  function runtimeRead() {
    const limit = Error.stackTraceLimit;
    const holder = {};
    try {
      Error.stackTraceLimit = 2;
      Error.captureStackTrace(holder, runtimeRead);
    } finally {
      Error.stackTraceLimit = limit;
    }
    const frames = String(holder.stack || '').split('\n').slice(1);
    return frames.length > 1 && /(\(|at )node:/.test(frames[1]);
  }
  if (honeyNames.size) {
    const env = process.env;
    process.env = new Proxy(env, {
      get(target, key) {
        if (typeof key === 'string' && honeyNames.has(key) && !runtimeRead()) emit({ kind: 'honey-env', name: key });
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

  // -- the exercise: after the module body, call what the suggestion adds or changes ---------------
  // Inline suggestions are mostly function bodies nothing calls on load. Each target (js_exercise.py)
  // is called with stand-in arguments, in this process (the supervisor records it like the rest of
  // the run), each with its share of the time; what it throws is caught and reported. This report is
  // detail: what the calls did comes from the supervisor's record.
  const EX = hdr.exercise && Array.isArray(hdr.exercise.targets) && hdr.exercise.targets.length ? hdr.exercise : null;
  const exercise = EX ? makeExercise(EX, { hdr, emit, state, FILE, FILE_URL, captureStack }) : null;
  if (prepared.covering && !(EX && EX.targets.some((t) => Array.isArray(t.want) && t.want.length))) {
    try { prepared.session.post('Profiler.stopPreciseCoverage'); } catch (e) { /* detail only */ }
  }


  // Which module system: the extension says, else the syntax (import/export: ESM).
  const ext = path.extname(FILE);
  const ts = ['.ts', '.mts', '.cts'].includes(ext);
  let source = code;
  let transformed = false;
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
  if (exercise && transformed) {
    // The exercise's insertions are at the lines and columns of the source as written: made there,
    // then transformed with it. Its lines moved, so which of them ran is not told.
    source = stripTypes(exercise.rewrite(code, true));
  } else if (exercise) {
    source = exercise.rewrite(source);
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
    import(fileUrl).then(
      () => {
        last();
        if (exercise) return exercise.run();
      },
      (e) => {
        if (e instanceof SyntaxError) emit({ kind: 'syntax-error', msg: String(e.message).slice(0, 300), line: lineOf(e), col: 0 });
        process.exitCode = e instanceof SyntaxError ? 3 : 1;
        process.stderr.write((e && e.stack) ? e.stack + '\n' : String(e) + '\n');
        // After a failed module body too: what it defined before it stopped can still be called.
        if (exercise && !(e instanceof SyntaxError)) return exercise.run();
      },
    );
  } else {
    const m = new Module(FILE, null);
    m.filename = FILE;
    m.paths = Module._nodeModulePaths(path.dirname(FILE));
    process.mainModule = m;
    if (!exercise) {
      m._compile(source, FILE);
      last();
    } else {
      let failed = null;
      try {
        m._compile(source, FILE);
      } catch (e) {
        failed = { error: e };
      }
      last();
      // After a failed module body too (its error ends the run once the calls are done).
      exercise.run().then(() => {
        if (failed) setImmediate(() => { throw failed.error; });
      });
    }
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
      if (!e || e.code !== 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') throw e;
      transformed = true;
      return Module.stripTypeScriptTypes(text, { mode: 'transform' });
    }
  }

  function lineOf(e) {
    const m = /:(\d+)/.exec(String(e.stack || ''));
    return m ? Number(m[1]) : 0;
  }
}
