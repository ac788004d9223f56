// sandgate-node-exercise: the exercise of a JavaScript/TypeScript suggestion, for node_bootstrap.js.
// Shipped in the same `node -e` argument, after the bootstrap (protocol.node_bootstrap_source): it
// uses the bootstrap's top-level modules (fs, path, vm, Module) and what the bootstrap made while
// the sandbox waited (`prepared`); `rt` brings the run's own: its header, the event writer, the state
// that places events, the program's file name and URL.
//
// After the module body, each target (js_exercise.py) is called with stand-in arguments, in this
// process (the supervisor records it like the rest of the run), each with its share of the time;
// what it throws is caught and reported. This report is detail: what the calls did comes from the
// supervisor's record. (Strict mode: the bootstrap's 'use strict' heads the one script.)

function makeExercise(ex, rt) {
  const { hdr, emit, state, FILE, FILE_URL, captureStack } = rt;
  // Taken now, before the program can replace them (it runs in this realm).
  const ReflectApply = Reflect.apply, ReflectConstruct = Reflect.construct, ReflectGet = Reflect.get;
  const ReflectDefine = Reflect.defineProperty, ReflectDelete = Reflect.deleteProperty;
  const ObjectCreate = Object.create, ObjectKeys = Object.keys, DefineProperty = Object.defineProperty;
  const ProxyCtor = Proxy, PromiseCtor = Promise, PromiseResolve = Promise.resolve.bind(Promise);
  const PromiseReject = Promise.reject.bind(Promise), PromiseThen = Promise.prototype.then;
  const realSetTimeout = setTimeout, realClearTimeout = clearTimeout;
  const WeakMapGet = WeakMap.prototype.get, WeakMapSet = WeakMap.prototype.set;
  const StringFn = String, JSONStringify = JSON.stringify, IsArray = Array.isArray;
  const mkdirSync = fs.mkdirSync;
  const timers = prepared.timers, promisedTimers = prepared.promisedTimers;
  const INSPECT = Symbol.for('nodejs.util.inspect.custom');
  const STANDIN_HOST = 'sandgate-standin.invalid'; // never resolves: a stand-in URL reaches nothing
  const ARGS_DIR = String(hdr.scratch).replace(/\/+$/, '') + '/sandgate-exercise';
  const MAX_CALL_EVENTS = 100;
  const names = new WeakMap(); // stand-in -> what it stands for
  let calls = 0;

  // The registry the rewritten program hands its targets to (js_exercise.py), under a per-run
  // name; the program cannot replace the function. It can find it, and call it: a registration
  // counts only when it is made from the text the rewrite inserted (the caller's line and column
  // in the program's file), so a decoy registered first does not stand in for the target.
  const key = prepared.key;
  const reached = new Map();
  const ours = new Map(); // line -> [[start, end)] columns of inserted text
  let foreign = 0;
  const registry = function (k, kind, v) {
    if (typeof k !== 'number' || reached.has(k)) return v;
    if (fromInsertion()) reached.set(k, { kind, v });
    else foreign += 1;
    return v;
  };
  function fromInsertion() {
    const limit = Error.stackTraceLimit;
    const holder = {};
    try {
      Error.stackTraceLimit = 1;
      captureStack(holder, registry);
    } finally {
      Error.stackTraceLimit = limit;
    }
    const m = /\(?((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?$/.exec(String(holder.stack || '').split('\n')[1] || '');
    if (!m || (m[1] !== FILE && m[1] !== FILE_URL)) return false;
    const col = Number(m[3]) - 1;
    return (ours.get(Number(m[2])) || []).some(([start, end]) => start <= col && col < end);
  }
  DefineProperty(globalThis, Symbol.for(key), { value: registry });
  const moduleKey = key + '.module';
  DefineProperty(globalThis, Symbol.for(moduleKey), { value: (name) => standinModule(name) });

  function isStandin(v) {
    return (typeof v === 'function' || (typeof v === 'object' && v !== null)) && ReflectApply(WeakMapGet, names, [v]) !== undefined;
  }

  const FIELDS = new Set(['query', 'params', 'body', 'headers', 'cookies', 'signedCookies']);
  // A value the sandbox could not give: absorbs property access, calls, `new`, awaits (it is a
  // thenable once: what it resolves to is not), iteration (two items), string and number use.
  function standin(name, opts) {
    opts = opts || {};
    const target = function () {};
    const handler = {
      get(t, prop) {
        if (prop === Symbol.toPrimitive) return (hint) => (hint === 'number' ? 1 : 'sandgate-standin');
        if (prop === Symbol.iterator) return function* () { yield standin(name + '[0]'); yield standin(name + '[1]'); };
        if (prop === Symbol.asyncIterator) return async function* () { yield standin(name + '[0]'); yield standin(name + '[1]'); };
        if (prop === INSPECT) return () => '[stand-in ' + name + ']';
        if (typeof prop === 'symbol') return undefined;
        if (prop === 'then') {
          if (opts.settled) return undefined;
          return (ok, fail) => {
            try {
              return PromiseResolve(typeof ok === 'function' ? ok(standin(name, { settled: true, req: opts.req })) : undefined);
            } catch (e) {
              return PromiseReject(e);
            }
          };
        }
        if (prop === 'toJSON' || prop === 'toString') return () => 'sandgate-standin';
        if (prop === 'valueOf') return () => 1;
        if (prop === 'length') return 1;
        if (opts.fields) return 'sandgate-standin'; // req.query.x: what a client sent, a string
        if (opts.req && FIELDS.has(prop)) return standin(name + '.' + prop, { fields: true });
        return standin(name + '.' + prop);
      },
      set() { return true; },
      defineProperty(t, prop, desc) { return ReflectDefine(t, prop, desc); },
      deleteProperty(t, prop) { return prop === 'prototype' ? false : ReflectDelete(t, prop) || true; },
      apply(t, self, args) {
        noteCall(name, args);
        return standin(name + '()');
      },
      construct(t, args) {
        noteCall('new ' + name, args);
        return standin('new ' + name);
      },
    };
    const made = new ProxyCtor(target, handler);
    ReflectApply(WeakMapSet, names, [made, name]);
    return made;
  }

  function standinModule(name) {
    emit({ kind: 'standin-module', name });
    return standin(name);
  }

  function show(v, depth, auth) {
    try {
      if (isStandin(v)) return '<stand-in ' + ReflectApply(WeakMapGet, names, [v]) + '>';
      if (typeof v === 'string') return JSONStringify(v.length > 400 ? v.slice(0, 400) : v);
      if (typeof v === 'function') return '<function>';
      if (v === null || typeof v !== 'object') return StringFn(v);
      if (v instanceof URL) return JSONStringify(v.href);
      if (Buffer.isBuffer(v)) return JSONStringify(v.subarray(0, 400).toString('utf8'));
      if (depth > 3) return '...';
      const parts = [];
      if (IsArray(v)) {
        for (let i = 0; i < v.length && i < 16; i++) parts[parts.length] = show(v[i], depth + 1, auth);
        return '[' + parts.join(', ') + ']';
      }
      const keys = ObjectKeys(v);
      for (let i = 0; i < keys.length && i < 16; i++) {
        const part = keys[i] + ': ' + show(v[keys[i]], depth + 1, auth);
        if (keys[i] === 'headers' || keys[i] === 'auth') auth[auth.length] = part;
        parts[parts.length] = part;
      }
      return '{' + parts.join(', ') + '}';
    } catch (e) {
      return '?';
    }
  }

  function noteCall(what, args) {
    if (calls >= MAX_CALL_EVENTS) return;
    calls += 1;
    const auth = [];
    const parts = [];
    for (let i = 0; i < args.length && i < 16; i++) parts[parts.length] = show(args[i], 0, auth);
    const ev = { kind: 'standin-call', what, args: parts.join(', ').slice(0, 2000) };
    if (auth.length) ev.auth = auth.map((a) => a.slice(0, 400));
    const files = [];
    try {
      peekFiles(args, files, 0);
    } catch (e) { /* detail only */ }
    if (files.length) ev.files = files;
    emit(ev);
  }

  // The start of each file a stand-in call was handed (a path the run wrote in scratch, a read
  // stream of one), so a secret staged in a file and then sent is seen where it goes, even if the
  // file is deleted afterwards (as bootstrap.py's _peek_files). Three files, 4 KiB each.
  const SCRATCH_DIR = String(hdr.scratch).replace(/\/+$/, '');
  const openSync = fs.openSync, readSync = fs.readSync, closeSync = fs.closeSync, fstatSync = fs.fstatSync;
  function peekFiles(value, out, depth) {
    if (out.length >= 3 || depth > 3 || value === null || value === undefined || isStandin(value)) return;
    let p = null;
    if (typeof value === 'string') {
      if (value.length < 4096 && value.indexOf('\n') < 0) p = path.resolve(value);
    } else if (typeof value === 'object') {
      if (typeof value.path === 'string') p = path.resolve(value.path); // fs.ReadStream, a file handle's path
      else if (IsArray(value)) for (let i = 0; i < value.length && i < 16; i++) peekFiles(value[i], out, depth + 1);
      else if (!Buffer.isBuffer(value)) {
        const keys = ObjectKeys(value);
        for (let i = 0; i < keys.length && i < 16; i++) peekFiles(value[keys[i]], out, depth + 1);
      }
    }
    if (p === null || !p.startsWith(SCRATCH_DIR + '/') || p.startsWith(ARGS_DIR + '/') || p === ARGS_DIR) return;
    let fd = -1;
    try {
      fd = openSync(p, 'r');
      if (!fstatSync(fd).isFile()) return;
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, 4096, 0);
      out[out.length] = p + ': ' + buf.subarray(0, n).toString('utf8');
    } catch (e) {
      /* not a file the run wrote */
    } finally {
      if (fd >= 0) try { closeSync(fd); } catch (e) { /* closed */ }
    }
  }

  // -- a module the sandbox lacks (express, axios, pg…) loads as a stand-in --------------------
  const bare = (s) => typeof s === 'string' && !/^(\.|\/|file:|node:|data:|sandgate-standin:)/.test(s) && !Module.isBuiltin(s);
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    try {
      return ReflectApply(load, this, [request, parent, isMain]);
    } catch (e) {
      if (e && e.code === 'MODULE_NOT_FOUND' && bare(request) && String(e.message).includes("'" + request + "'")) {
        return standinModule(request);
      }
      throw e;
    }
  };
  const imports = ex.imports || {};
  Module.registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (e) {
        const missing = e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND');
        const required = (context.conditions || []).includes('require');
        if (!missing || required || !bare(specifier)) throw e;
        return { url: 'sandgate-standin:' + encodeURIComponent(specifier), format: 'module', shortCircuit: true };
      }
    },
    load(u, context, next) {
      if (!u.startsWith('sandgate-standin:')) return next(u, context);
      const name = decodeURIComponent(u.slice('sandgate-standin:'.length));
      let text = 'const s = globalThis[Symbol.for(' + JSONStringify(moduleKey) + ')](' + JSONStringify(name) + ');\nexport default s;\n';
      for (const n of imports[name] || []) {
        if (/^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default') text += 'export const ' + n + ' = s.' + n + ';\n';
      }
      return { format: 'module', source: text, shortCircuit: true };
    },
  });

  // -- which of the suggestion's lines ran: V8's block coverage, in process ------------------
  const wants = ex.targets.some((t) => IsArray(t.want) && t.want.length);
  let session = null, post = null;
  if (wants) {
    try {
      if (!prepared.session) throw new Error(prepared.error || 'no inspector session');
      session = prepared.session;
      const sessionPost = prepared.sessionPost;
      post = (method, params) => {
        let out = null, err = null;
        ReflectApply(sessionPost, session, [method, params || {}, (e, r) => { err = e; out = r; }]);
        if (err) throw err;
        return out;
      };
      if (!prepared.covering) throw new Error('coverage did not start');
    } catch (e) {
      session = null;
      emit({ kind: 'exercise-coverage-unavailable', error: String(e).slice(0, 200) });
    }
  }

  // The program with its insertions; where each line starts in it, to find a statement by line.
  let lineStarts = null;
  const shifts = new Map(); // line -> [[column in UTF-16 units, inserted length]]
  const PLACEHOLDER = "globalThis[Symbol.for('sandgate.exercise')]";
  const REAL = 'globalThis[Symbol.for(' + JSONStringify(key) + ')]';
  let origLines = [];
  // Set when the program had to be transformed (TypeScript that strip mode refuses): the lines of
  // the text run are no longer those of the source as written, so which of them ran is not told.
  let linesMoved = false;
  function rewrite(text, moved) {
    linesMoved = Boolean(moved);
    const lines = text.split('\n');
    origLines = lines.slice();
    const inserts = (ex.inserts || []).slice().sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    for (const [line, col, text] of inserts) {
      const i = line - 1;
      if (i < 0 || i >= lines.length) continue;
      const add = String(text).split(PLACEHOLDER).join(REAL);
      const units = unitsOf(origLines[i], col);
      lines[i] = lines[i].slice(0, units) + add + lines[i].slice(units);
      if (!shifts.has(line)) shifts.set(line, []);
      shifts.get(line).push([units, add.length]);
    }
    // Where the inserted text ends up on each line (columns of the rewritten line): the only
    // places a registration is taken from.
    for (const [line, list] of shifts) {
      let moved = 0;
      const spans = [];
      for (const [at, len] of list.slice().sort((a, b) => a[0] - b[0])) {
        spans[spans.length] = [at + moved, at + moved + len];
        moved += len;
      }
      ours.set(line, spans);
    }
    const out = lines.join('\n');
    lineStarts = [0];
    for (let i = 0; i < out.length; i++) if (out.charCodeAt(i) === 10) lineStarts.push(i + 1);
    return out;
  }

  function unitsOf(lineText, codePoints) {
    let units = 0, n = 0;
    for (const ch of lineText) {
      if (n >= codePoints) break;
      units += ch.length;
      n += 1;
    }
    return units;
  }

  function offsetOf(line, col) {
    if (!lineStarts || line < 1 || line > origLines.length) return -1;
    const units = unitsOf(origLines[line - 1], col);
    // columns are of the original line: add what was inserted before them
    let shift = 0;
    for (const [at, len] of shifts.get(line) || []) if (at <= units) shift += len;
    return lineStarts[line - 1] + units + shift;
  }

  function coverage() {
    if (!session) return null;
    try {
      const taken = post('Profiler.takePreciseCoverage');
      return (taken.result || []).find((s) => s.url === FILE_URL || s.url === FILE) || { functions: [] };
    } catch (e) {
      return null;
    }
  }

  function countAt(script, offset) {
    let best = null;
    for (const fn of script.functions || []) {
      for (const r of fn.ranges || []) {
        if (r.startOffset <= offset && offset < r.endOffset && (best === null || r.endOffset - r.startOffset < best.endOffset - best.startOffset)) best = r;
      }
    }
    return best === null ? 0 : best.count;
  }

  // -- arguments ----------------------------------------------------------------------------------
  const PATHY = ['path', 'file', 'dest', 'src', 'source', 'target', 'output', 'out', 'filename', 'fname'];
  const FOLDERY = ['dir', 'folder', 'root', 'directory', 'cache'];
  const WORDY = ['name', 'data', 'body', 'payload', 'content', 'report', 'cmd', 'command', 'script', 'query', 'sql', 'text', 'str', 'msg', 'message', 'input', 'id', 'key', 'token', 'user', 'email', 'password', 'label', 'title'];
  const COUNTS = ['n', 'count', 'size', 'limit', 'timeout', 'retries', 'num', 'max', 'min', 'page', 'port', 'ms', 'delay', 'seconds'];

  function scratchPath(name, folder) {
    const p = ARGS_DIR + '/' + (name || 'arg');
    try { mkdirSync(folder ? p : ARGS_DIR, { recursive: true }); } catch (e) { /* scratch is full */ }
    return p;
  }

  function valueFor(name, kind, index, route) {
    const low = String(name || '').toLowerCase();
    if (route) {
      if (index === 0) return standin(name || 'req', { req: true });
      if (index === 2) return () => undefined; // next()
      if (index === 1) return standin(name || 'res');
    }
    if (kind === 'number') return 1;
    if (kind === 'boolean') return false;
    if (kind === 'array') return [];
    if (kind === 'object') return {};
    if (/^(req|request|ctx|context|event)$/.test(low)) return standin(name, { req: true });
    const folder = FOLDERY.some((w) => low.includes(w));
    if (/(url|uri|endpoint|href|link)/.test(low)) return 'http://' + STANDIN_HOST + '/' + low;
    if (/(host|domain)/.test(low)) return STANDIN_HOST;
    if (folder) return scratchPath(low, true);
    if (PATHY.some((w) => low.includes(w))) return scratchPath(low, false);
    if (!kind && (COUNTS.includes(low) || /(count|size)$/.test(low))) return 1;
    if (kind === 'string' || WORDY.some((w) => low.includes(w))) return 'sandgate-standin';
    return standin(name || 'arg' + index);
  }

  function argsFor(t, allStandins) {
    const args = [];
    const params = IsArray(t.params) ? t.params : [];
    for (let i = 0; i < params.length; i++) {
      const [name, kind] = params[i];
      if (kind === 'rest') break;
      if (allStandins) args[args.length] = standin(name || 'arg' + i, { req: true });
      else args[args.length] = kind === 'default' ? undefined : valueFor(name, kind, i, t.route);
    }
    return args;
  }

  // -- calls --------------------------------------------------------------------------------------
  // The synchronous part of a call runs under vm's timeout (V8 stops an endless loop); what it
  // returns is awaited for what is left of the share (a promise that never settles is left).
  const callCtx = prepared.callCtx || vm.createContext({});
  const callScript = prepared.callScript || new vm.Script('sandgateCall()', { filename: 'sandgate-exercise' });
  const TIMEOUT = { timeout: true };
  class ExitCall {
    constructor(code) { this.code = code === undefined ? 0 : code; }
  }
  function bounded(thunk, ms) {
    callCtx.sandgateCall = thunk;
    try {
      return callScript.runInContext(callCtx, { timeout: Math.max(1, Math.round(ms)) });
    } catch (e) {
      if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw TIMEOUT;
      throw e;
    } finally {
      callCtx.sandgateCall = null;
    }
  }

  // What a returned promise runs after its first `await` is past vm's timeout: an endless loop
  // there would hold the run until its wall time. A watchdog thread (made at the first await,
  // only in runs that need one) stops it through the inspector (Runtime.terminateExecution):
  // armed for the wait, it acts only once the deadline has passed while this thread's heartbeat
  // has stopped (busy in JavaScript, not waiting), so it never cuts our own callbacks.
  const WATCHDOG = `
    const { workerData } = require('node:worker_threads');
    const ctl = new Int32Array(workerData); // [0] odd while armed, [1] ms, [2] heartbeat
    const session = new (require('node:inspector').Session)();
    session.connectToMainThread();
    for (;;) {
      const gen = Atomics.load(ctl, 0);
      if (gen % 2 === 0) { Atomics.wait(ctl, 0, gen); continue; }
      const deadline = Date.now() + Atomics.load(ctl, 1);
      let beat = Atomics.load(ctl, 2), beatAt = Date.now();
      while (Atomics.load(ctl, 0) === gen) {
        Atomics.wait(ctl, 0, gen, 20);
        const now = Date.now(), b = Atomics.load(ctl, 2);
        if (b !== beat) { beat = b; beatAt = now; }
        if (Atomics.load(ctl, 0) === gen && now > deadline && now - beatAt > 60) {
          session.post('Runtime.terminateExecution');
          beatAt = now;
        }
      }
    }`;
  const realSetInterval = setInterval, realClearInterval = clearInterval;
  let watchdog = null;
  function armed(ms) {
    try {
      if (watchdog === null) {
        const ctl = new Int32Array(new SharedArrayBuffer(12));
        const worker = new prepared.Worker(WATCHDOG, { eval: true, workerData: ctl.buffer });
        worker.unref();
        worker.on('error', () => {});
        watchdog = { ctl, worker };
      }
      const ctl = watchdog.ctl;
      Atomics.store(ctl, 1, Math.max(1, Math.round(ms)));
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      const beat = realSetInterval(() => Atomics.add(ctl, 2, 1), 10);
      return () => {
        realClearInterval(beat);
        Atomics.add(ctl, 0, 1);
        Atomics.notify(ctl, 0);
      };
    } catch (e) {
      return () => {}; // no watchdog: the run's wall time is the bound
    }
  }

  function within(value, ms) {
    return new PromiseCtor((resolve, reject) => {
      const disarm = armed(ms);
      const timer = realSetTimeout(() => { disarm(); reject(TIMEOUT); }, Math.max(1, ms));
      let p;
      try {
        p = PromiseResolve(value);
      } catch (e) {
        realClearTimeout(timer);
        disarm();
        reject(e);
        return;
      }
      ReflectApply(PromiseThen, p, [
        (v) => { realClearTimeout(timer); disarm(); resolve(v); },
        (e) => { realClearTimeout(timer); disarm(); reject(e); },
      ]);
    });
  }

  async function drive(result, deadline) {
    if (result === null || (typeof result !== 'object' && typeof result !== 'function') || isStandin(result)) return;
    const left = () => deadline - Date.now();
    let then = null, next = null, asyncIter = null;
    try {
      then = result.then;
      next = result.next;
      asyncIter = result[Symbol.asyncIterator];
    } catch (e) {
      return;
    }
    if (typeof then === 'function') {
      await within(result, left());
    } else if (typeof next === 'function' && typeof asyncIter === 'function') {
      for (let i = 0; i < 16; i++) {
        const step = await within(bounded(() => ReflectApply(next, result, []), left()), left());
        if (!step || step.done) break;
      }
    } else if (typeof next === 'function' && typeof result[Symbol.iterator] === 'function') {
      for (let i = 0; i < 16; i++) {
        const step = bounded(() => ReflectApply(next, result, []), left());
        if (!step || step.done) break;
      }
    }
  }

  function walk(value, path) {
    for (const p of path) value = value == null ? undefined : value[p];
    return value;
  }

  function instanceOf(cls, deadline) {
    try {
      const n = typeof cls.length === 'number' ? Math.min(cls.length, 8) : 0;
      const args = [];
      for (let i = 0; i < n; i++) args[i] = standin('arg' + i);
      return bounded(() => ReflectConstruct(cls, args), Math.max(1, deadline - Date.now()));
    } catch (e) {
      if (e === TIMEOUT) throw e;
      return ObjectCreate(cls.prototype || null);
    }
  }

  // What to call for a target: { fn, self, construct } or null.
  function resolveTarget(t, entry, deadline) {
    const base = entry.kind === 0 ? entry.v() : entry.v;
    const path = IsArray(t.path) ? t.path : [];
    const how = t.how;
    if (how === 'call' || how === 'callback') {
      return { fn: walk(base, path), self: path.length ? walk(base, path.slice(0, -1)) : undefined };
    }
    const owner = walk(base, path.slice(0, -1));
    const name = path[path.length - 1];
    if (owner == null) return null;
    if (how === 'new') return { fn: owner, construct: true };
    if (how === 'static' || how === 'obj') return { fn: owner[name], self: owner };
    const isClass = typeof owner === 'function' && how !== 'static-get' && how !== 'static-set';
    const self = isClass ? instanceOf(owner, deadline) : owner;
    if (how === 'get' || how === 'static-get') return { fn: () => ReflectGet(self, name), self: undefined };
    if (how === 'set' || how === 'static-set') return { fn: (v) => { self[name] = v; }, self: undefined };
    return { fn: self[name], self };
  }

  async function attempt(t, target, args, ms, wanted, hits) {
    const deadline = Date.now() + ms;
    // Each take resets the counts: what the last one (before the first call, or after the call
    // before) left are this call's (the program's stray async work aside).
    let outcome = { state: 'returned' };
    try {
      const result = bounded(
        () => (target.construct ? ReflectConstruct(target.fn, args) : ReflectApply(target.fn, target.self, args)),
        ms,
      );
      await drive(result, deadline);
    } catch (e) {
      if (e === TIMEOUT) outcome = { state: 'timed-out' };
      else if (e instanceof ExitCall) outcome = { state: 'exited', error: 'process.exit(' + e.code + ')' };
      else outcome = { state: 'raised', error: describe(e) };
    }
    if (wanted.length) {
      const script = coverage();
      if (script) for (const [line, offset] of wanted) if (offset >= 0 && countAt(script, offset) > 0) hits.add(line);
    }
    return outcome;
  }

  function describe(e) {
    try {
      const name = (e && e.constructor && e.constructor.name) || typeof e;
      return (name + ': ' + String(e && e.message !== undefined ? e.message : e)).slice(0, 200);
    } catch (x) {
      return 'an error';
    }
  }

  async function call(t, share) {
    const entry = reached.get(t.reach);
    if (!entry) return { state: 'missing' };
    const ms = Math.max(20, share * 1000);
    let target;
    try {
      target = resolveTarget(t, entry, Date.now() + ms);
    } catch (e) {
      return e === TIMEOUT ? { state: 'timed-out' } : { state: 'missing', error: describe(e) };
    }
    if (!target || typeof target.fn !== 'function') return { state: 'missing' };
    const wanted = session && !linesMoved && IsArray(t.want) ? t.want.map(([line, col]) => [line, offsetOf(line, col)]) : [];
    const hits = new Set();
    const args = argsFor(t, false);
    let outcome = await attempt(t, target, args, ms, wanted, hits);
    if (wanted.length && !hits.size && outcome.state === 'raised' && args.length) {
      // The call ended before any line of the suggestion ran (the code before it failed on the
      // arguments given): once more with stand-ins for every argument, which absorb anything.
      const first = outcome;
      outcome = await attempt(t, target, argsFor(t, true), ms, wanted, hits);
      outcome.retried = first.error || first.state;
    }
    if (wanted.length) {
      outcome.lines = wanted.length;
      outcome.reached = hits.size;
    }
    return outcome;
  }

  function quickTimers() {
    // Waiting is not what is being vetted: timeouts fire at once while the targets run.
    const promised = promisedTimers;
    const quick = function (fn, ms, ...rest) { return ReflectApply(realSetTimeout, this, [fn, Math.min(Number(ms) || 0, 1), ...rest]); };
    const sleep = promised.setTimeout;
    globalThis.setTimeout = quick;
    timers.setTimeout = quick;
    promised.setTimeout = (ms, value, options) => sleep(Math.min(Number(ms) || 0, 1), value, options);
  }

  async function run() {
    const absorb = () => {}; // a target's stray async error is its own, not the end of the run
    process.on('uncaughtException', absorb);
    process.on('unhandledRejection', absorb);
    // A target's process.exit() ends the call, not the run (as Python's SystemExit is caught):
    // a command's main() that exits when done is not the exercise switched off.
    const exit = process.exit;
    process.exit = function (code) { throw new ExitCall(code); };
    try {
      quickTimers();
    } catch (e) { /* detail only */ }
    const share = Number(ex.share_s) || 0.5;
    coverage(); // the module body's counts are not the calls'
    for (const t of ex.targets) {
      const qual = String(t.qual);
      state.in = qual;
      emit({ kind: 'exercise', qual, state: 'call' });
      let outcome;
      try {
        outcome = await call(t, share);
      } catch (e) {
        outcome = { state: 'raised', error: describe(e) };
      }
      state.in = null;
      emit({ kind: 'exercise', qual, line: t.line || 0, ...outcome });
    }
    emit(foreign ? { kind: 'exercise-done', n: ex.targets.length, foreign } : { kind: 'exercise-done', n: ex.targets.length });
    process.removeListener('uncaughtException', absorb);
    process.removeListener('unhandledRejection', absorb);
    if (process.exit !== exit) process.exit = exit;
  }

  return {
    rewrite,
    run,
  };
}
