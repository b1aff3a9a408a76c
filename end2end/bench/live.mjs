// The live-update benchmark (issue 4). Run it through scripts/bench-live.sh, which builds what
// it needs; this file is the driver. It starts the benchmark fleet (burnin-bench-fleet: 20
// simulated TrueNAS hosts × 50 drives, with an HTTP control) and the release server against a
// fresh SQLite file, registers the hosts through the same server function the hosts page uses,
// restarts the server so it starts with 1,000 drives like any production restart, then
// measures:
//   - latency from a simulator change to the DOM of a real Chromium tab (MutationObserver), in
//     two ways: "change → DOM", the change made at a random instant (so it includes the wait
//     for the server's next temperature read), and "read → DOM", the change staged to take
//     effect exactly when the server reads the host (the product's own pipeline: API answer,
//     SQLite, hub, WebSocket, wasm, DOM);
//   - bytes on the wire per drive update, counted on 50 raw WebSocket clients of /live;
//   - the server's RSS (VmRSS sampled, VmHWM peak) and CPU (utime+stime) from /proc;
//   - SSR time of the dashboard (`GET /`) with 1,000 drives.
// Prints a table and writes reports/bench-live.txt and reports/bench-live.json.
//
// Settings (environment): BENCH_HOSTS (20), BENCH_DRIVES (50), BENCH_CLIENTS (50),
// BENCH_SAMPLES (200 per latency mode), BENCH_CHURN (background drive changes per second, 50),
// BENCH_SSR (50 GETs), BENCH_PAGE_SIZE (rows shown in the tab, 1000), BENCH_TEMPERATURE_SECS
// (the server's temperature read interval, 1), BENCH_SERVER_BIN, BENCH_FLEET_BIN,
// BENCH_SITE_ROOT, BENCH_REPORT_DIR, CHROMIUM (/usr/bin/chromium), BENCH_KEEP (keep the
// temporary folder with the server's log).

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const env = (name, fallback) => process.env[name] ?? fallback;
const num = (name, fallback) => Number(env(name, fallback));

const settings = {
  hosts: num('BENCH_HOSTS', 20),
  drivesPerHost: num('BENCH_DRIVES', 50),
  clients: num('BENCH_CLIENTS', 50),
  samples: num('BENCH_SAMPLES', 200),
  churnPerSecond: num('BENCH_CHURN', 50),
  ssrRequests: num('BENCH_SSR', 50),
  pageSize: num('BENCH_PAGE_SIZE', 1000),
  temperatureSecs: num('BENCH_TEMPERATURE_SECS', 1),
  // 0: measure the server that registered the hosts (no restart, so no start-up SMART sweep).
  restart: env('BENCH_RESTART', '1') !== '0',
};
const serverBin = env('BENCH_SERVER_BIN', path.join(root, 'target/release/burnin-server'));
const fleetBin = env('BENCH_FLEET_BIN', path.join(root, 'target/release/burnin-bench-fleet'));
const siteRoot = env('BENCH_SITE_ROOT', path.join(root, 'target/site'));
const reportDir = env('BENCH_REPORT_DIR', path.join(root, 'reports'));
// The server's environment beyond the benchmark's own flags; scripts/bench-live.sh passes
// what scripts/run.sh and the Docker image set (MALLOC_ARENA_MAX=2).
const serverEnv = Object.fromEntries(
  env('BENCH_SERVER_ENV', '').split(/\s+/).filter(Boolean).map((pair) => [pair.split('=')[0], pair.slice(pair.indexOf('=') + 1)]),
);
// Extra server flags, for experiments: BENCH_SERVER_ARGS="--poll-interval-secs 3600".
const serverArgs = env('BENCH_SERVER_ARGS', '').split(/\s+/).filter(Boolean);
const targets = { p99Ms: 100, bytesPerUpdate: 512, rssMiB: 64 };
// Drives 0-4 of each host are its boot SSD and pool; 5-14 are measured; the rest churn.
const MEASURED_FIRST = 5;
const MEASURED_LAST = 14;

const started = Date.now();
const loadAtStart = os.loadavg();
const log = (...args) =>
  console.log(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s]`, ...args);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();

function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

function summary(values) {
  return {
    n: values.length,
    p50: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    max: values.length ? Math.max(...values) : NaN,
    min: values.length ? Math.min(...values) : NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN,
  };
}

async function waitFor(what, check, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU and memory of a process.

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime + stime
}

/** CPU seconds of a process and all its descendants (Chromium's browser, renderer, GPU…). */
function treeCpuSeconds(rootPid) {
  const parents = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  let total = 0;
  for (const pid of parents.keys()) {
    for (let p = pid; p > 1; p = parents.get(p) ?? 0) {
      if (p === rootPid) {
        try {
          total += cpuSeconds(pid);
        } catch {
          // Gone meanwhile.
        }
        break;
      }
    }
  }
  return total;
}

/** CPU seconds of the Chromium this driver launched (a child process of ours), all processes. */
function chromiumCpuSeconds() {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (parent === process.pid && name.startsWith('chrom')) total += treeCpuSeconds(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** CPU seconds the whole machine spent busy (all CPUs), from /proc/stat. */
function machineBusySeconds() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4]; // idle + iowait
  return (cpu.slice(0, 8).reduce((a, b) => a + b, 0) - idle) / ticksPerSecond;
}

function memoryKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number((status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) ?? [])[1]);
  return { rss: field('VmRSS'), hwm: field('VmHWM'), anon: field('RssAnon'), file: field('RssFile') };
}

class Sampler {
  constructor(pid, everyMs = 250) {
    this.pid = pid;
    this.samples = [];
    this.timer = setInterval(() => {
      try {
        this.samples.push({ t: Date.now(), ...memoryKiB(pid) });
      } catch {
        // The process is gone.
      }
    }, everyMs);
  }
  stop() {
    clearInterval(this.timer);
  }
  between(from, to) {
    return this.samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.rss);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes.

function startFleet() {
  const child = spawn(
    fleetBin,
    ['--hosts', String(settings.hosts), '--drives', String(settings.drivesPerHost)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve({ child, info: JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`burnin-bench-fleet exited with ${code}`)));
  });
}

function startServer(port, work) {
  const logFile = fs.openSync(path.join(work, 'server.log'), 'a');
  const child = spawn(
    serverBin,
    [
      '--listen', `127.0.0.1:${port}`,
      '--database-url', `sqlite://${work}/burnin.db`,
      '--site-root', siteRoot,
      '--simulator', 'never',
      '--temperature-interval-secs', String(settings.temperatureSecs),
      '--environment', 'production',
      '--log', 'warn',
      ...serverArgs,
    ],
    {
      stdio: ['ignore', logFile, logFile],
      env: {
        ...process.env,
        BURNIN_INITIAL_ADMIN_USER: BENCH_USER,
        BURNIN_INITIAL_ADMIN_PASSWORD: BENCH_PASSWORD,
        ...serverEnv,
      },
    },
  );
  child.once('exit', (code, signal) => {
    if (!child.expectedExit) console.error(`burnin-server exited (${code ?? signal}); see ${work}/server.log`);
  });
  return child;
}

async function stopProcess(child, timeoutMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.expectedExit = true;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers (node:http, so timing and bytes are ours, not a client library's).

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

// Every request signs in with the bench admin's API token, once it exists.
const auth = { headers: {} };
const BENCH_USER = 'bench';
// Sign-in refuses a password that contains the user's name.
const BENCH_PASSWORD = 'long haul surface scan passphrase';
// The raw /live clients are viewers, this many to a user: a user may hold 20 live channels
// (live_connections_per_user), and 50 tabs are many people's, not one person's.
const CLIENTS_PER_VIEWER = 10;

function request(url, { method = 'GET', body, headers = {} } = {}) {
  headers = { ...auth.headers, ...headers };
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      let firstByte;
      res.on('data', (chunk) => {
        firstByte ??= now();
        chunks.push(chunk);
      });
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, data, t0, firstByte, t1: now() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function json(url, options = {}) {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = body === undefined ? {} : { 'content-type': 'application/json' };
  const answer = await request(url, { ...options, body, headers });
  const text = answer.data.toString('utf8');
  if (answer.status >= 400) throw new Error(`${options.method ?? 'GET'} ${url}: ${answer.status} ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------
// A WebSocket client on a raw TCP socket: every byte the server sends is counted, frame
// headers included (the server negotiates no compression).

class LiveClient {
  constructor(port, token) {
    this.port = port;
    this.token = token;
    this.bytes = 0; // every byte read from the socket
    this.handshakeBytes = 0;
    this.byType = new Map(); // type -> { count, frameBytes, payloadBytes }
    this.buffer = Buffer.alloc(0);
    this.upgraded = false;
    this.snapshots = 0;
    this.closed = false;
    this.watch = new Set(); // drive ids whose temperature messages are timed
    this.arrivals = new Map(); // `${id}:${celsius}` -> first arrival (ms)
  }

  connect() {
    return new Promise((resolve, reject) => {
      const key = crypto.randomBytes(16).toString('base64');
      this.socket = net.connect(this.port, '127.0.0.1', () => {
        this.socket.write(
          `GET /live HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nUpgrade: websocket\r\n` +
            `Authorization: Bearer ${this.token}\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      this.socket.setNoDelay(true);
      this.onSnapshot = resolve;
      this.socket.on('data', (chunk) => this.read(chunk, reject));
      this.socket.on('error', reject);
      this.socket.on('close', () => {
        this.closed = true;
      });
    });
  }

  read(chunk, reject) {
    this.bytes += chunk.length;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) {
        reject(new Error(`/live refused the upgrade: ${head.split('\r\n')[0]}`));
        return;
      }
      this.handshakeBytes = end + 4;
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const opcode = b[0] & 0x0f;
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b[1] & 0x80) offset += 4; // servers do not mask, but be exact
      if (b.length < offset + length) return;
      const payload = b.subarray(offset, offset + length);
      this.frame(opcode, payload, offset + length);
      this.buffer = b.subarray(offset + length);
    }
  }

  frame(opcode, payload, frameBytes) {
    if (opcode === 0x9) {
      this.send(0xa, payload); // pong
      return;
    }
    if (opcode !== 0x1) return; // tungstenite sends every text message in one frame
    const type = /^\{"t":"([a-z_]+)"/.exec(payload.subarray(0, 32).toString('latin1'))?.[1] ?? '?';
    const entry = this.byType.get(type) ?? { count: 0, frameBytes: 0, payloadBytes: 0, max: 0 };
    entry.count += 1;
    entry.frameBytes += frameBytes;
    entry.payloadBytes += payload.length;
    entry.max = Math.max(entry.max, frameBytes);
    this.byType.set(type, entry);
    if (this.timeline && (type === 'temp' || type === 'drive')) this.timeline.push(now());
    if (this.values) {
      // The first client also keeps every drive's temperature, to count messages that
      // change nothing a user can see.
      const message = JSON.parse(payload.toString('utf8'));
      if (type === 'snapshot' || type === 'snapshot_more') for (const drive of message.drives) this.values.set(drive.id, drive.temperature_c);
      if (type === 'drive') this.values.set(message.drive.id, message.drive.temperature_c);
      if (type === 'temp') {
        if (this.values.get(message.id) === message.c) this.unchangedTemps += 1;
        this.values.set(message.id, message.c);
      }
    }
    if (type === 'temp' && this.watch.size) {
      const message = JSON.parse(payload.toString('utf8'));
      const key = `${message.id}:${message.c}`;
      if (this.watch.has(message.id) && !this.arrivals.has(key)) this.arrivals.set(key, now());
    }
    // A snapshot comes in parts (`more` says how many follow); it is whole at the last one.
    if (type === 'snapshot' || type === 'snapshot_more') {
      const more = /"more":(\d+)/.exec(payload.toString('latin1'))?.[1];
      this.snapshotBytes = (type === 'snapshot' ? 0 : this.snapshotBytes ?? 0) + frameBytes;
      this.largestFrame = Math.max(this.largestFrame ?? 0, frameBytes);
      if (!more || more === '0') {
        this.snapshots += 1;
        this.lastSnapshotBytes = this.snapshotBytes;
        this.onSnapshot?.();
        this.onSnapshot = undefined;
      }
    }
  }

  send(opcode, payload) {
    const mask = crypto.randomBytes(4);
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
    this.socket.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | masked.length]), mask, masked]));
  }

  counts() {
    return Object.fromEntries([...this.byType].map(([type, entry]) => [type, { ...entry }]));
  }

  close() {
    this.socket?.destroy();
  }
}

function diffCounts(after, before) {
  const out = {};
  for (const [type, entry] of Object.entries(after)) {
    const base = before[type] ?? { count: 0, frameBytes: 0, payloadBytes: 0 };
    out[type] = {
      count: entry.count - base.count,
      frameBytes: entry.frameBytes - base.frameBytes,
      payloadBytes: entry.payloadBytes - base.payloadBytes,
      max: entry.max,
    };
  }
  return out;
}

function sumCounts(list) {
  const out = {};
  for (const counts of list) {
    for (const [type, entry] of Object.entries(counts)) {
      const total = (out[type] ??= { count: 0, frameBytes: 0, payloadBytes: 0, max: 0 });
      total.count += entry.count;
      total.frameBytes += entry.frameBytes;
      total.payloadBytes += entry.payloadBytes;
      total.max = Math.max(total.max, entry.max);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Clock alignment: the page, the fleet and this process all read the wall clock; the offsets
// are measured with the round trip of smallest delay.

async function offsetOf(read, rounds = 25) {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    const theirs = await read();
    const t1 = now();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: theirs - (t0 + t1) / 2 };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  for (const [what, file] of [['server', serverBin], ['fleet', fleetBin], ['site', path.join(siteRoot, 'pkg/burnin.wasm')]]) {
    if (!fs.existsSync(file)) throw new Error(`the ${what} is not built: ${file} is missing (run scripts/bench-live.sh)`);
  }
  if (settings.clients < 1) throw new Error('BENCH_CLIENTS must be at least 1');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'burnin-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const total = settings.hosts * settings.drivesPerHost;
  const processes = {};
  const clients = [];
  let browser;
  let sampler;
  try {
    log(`starting the benchmark fleet: ${settings.hosts} hosts × ${settings.drivesPerHost} drives`);
    const fleet = await startFleet();
    processes.fleet = fleet.child;
    const control = fleet.info.control;

    log(`starting the server on ${base} (work folder ${work})`);
    processes.server = startServer(port, work);
    await waitFor('the server to be ready', async () => (await request(`${base}/readyz`)).status === 200, 60_000);

    const token = execFileSync(serverBin, [
      'token', 'create', '--user', BENCH_USER, '--scope', 'admin', '--name', 'bench',
      '--database-url', `sqlite://${work}/burnin.db`,
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    auth.headers = { authorization: `Bearer ${token}` };
    auth.token = token;
    const viewers = Math.ceil(settings.clients / CLIENTS_PER_VIEWER);
    const viewerTokens = [];
    for (let v = 0; v < viewers; v++) {
      const cli = (args, extraEnv = {}) => execFileSync(serverBin, [...args, '--database-url', `sqlite://${work}/burnin.db`], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv },
      }).trim();
      cli(['user', 'add', `viewer${v}`, '--role', 'viewer'], { BURNIN_PASSWORD: BENCH_PASSWORD });
      viewerTokens.push(cli(['token', 'create', '--user', `viewer${v}`, '--scope', 'read', '--name', 'bench']));
    }

    // The hosts page calls the save_host server function; its URL carries a hash that only the
    // built bundle knows.
    const wasm = fs.readFileSync(path.join(siteRoot, 'pkg/burnin.wasm')).toString('latin1');
    const saveHost = /\/api\/save_host\d*/.exec(wasm)?.[0];
    if (!saveHost) throw new Error('cannot find the save_host server function in the site bundle');
    log(`registering ${fleet.info.hosts.length} hosts through ${saveHost}`);
    for (const host of fleet.info.hosts) {
      await json(`${base}${saveHost}`, {
        method: 'POST',
        body: {
          id: null,
          input: {
            name: host.name,
            api_url: host.api_url,
            api_user: 'root',
            api_key: host.api_key,
            tls_mode: null,
            tls_fingerprint: null,
            tls_ca_pem: null,
            ssh_host: host.ssh_host,
            ssh_port: host.ssh_port,
            ssh_user: 'root',
            ssh_private_key: fleet.info.ssh_private_key,
            ssh_password: null,
            enabled: true,
          },
        },
      });
    }
    const fleetReady = async () => {
      const hosts = await json(`${base}/api/v1/hosts`);
      const drives = await json(`${base}/api/v1/drives`);
      return hosts.every((h) => h.status === 'online') && drives.length === total && drives;
    };
    await waitFor(`${total} drives on ${settings.hosts} online hosts`, fleetReady, 120_000, 500);

    const restartedAt = Date.now();
    if (settings.restart) {
      log('restarting the server: it now starts with the whole fleet in its database');
      await stopProcess(processes.server);
      processes.server = startServer(port, work);
    }
    const serverPid = processes.server.pid;
    sampler = new Sampler(serverPid);
    const cpuAtStart = cpuSeconds(serverPid);
    await waitFor('the server to be ready again', async () => (await request(`${base}/readyz`)).status === 200, 60_000, 50);
    const readyMs = settings.restart ? Date.now() - restartedAt : NaN;
    // RSS and threads at each step, to tell what costs memory.
    const phases = [];
    const phase = (name) => {
      const status = fs.readFileSync(`/proc/${serverPid}/status`, 'utf8');
      const threads = Number((status.match(/^Threads:\s+(\d+)/m) ?? [])[1]);
      const memory = memoryKiB(serverPid);
      phases.push({ phase: name, rss_mib: memory.rss / 1024, anon_mib: memory.anon / 1024, file_mib: memory.file / 1024, threads });
    };
    await sleep(1000);
    phase('ready, hosts connecting');

    log(`connecting ${settings.clients} WebSocket clients to /live`);
    for (let i = 0; i < settings.clients; i++) clients.push(new LiveClient(port, viewerTokens[Math.floor(i / CLIENTS_PER_VIEWER)]));
    if (clients[0]) {
      clients[0].values = new Map();
      clients[0].unchangedTemps = 0;
    }
    await Promise.all(clients.map((client) => client.connect()));
    phase(`${settings.clients} /live clients connected`);
    const drives = await waitFor(`${total} drives on ${settings.hosts} online hosts`, fleetReady, 120_000, 500);

    // The server reads SMART of every idle drive a few seconds after it starts (the table's
    // health column); let that sweep finish so the figures below are the steady state.
    const sweepStarted = Date.now();
    if (settings.restart) {
      log('waiting for the start-up SMART sweep of every drive');
      await waitFor(
        'the SMART sweep',
        async () => (await json(`${base}/api/v1/drives`)).every((d) => d.smart_health !== 'unknown'),
        300_000,
        1000,
      );
    }
    const sweepSecs = (Date.now() - sweepStarted) / 1000;
    phase('SMART sweep done');
    const afterSweep = sumCounts(clients.map((c) => c.counts()));

    log('opening the dashboard in Chromium');
    browser = await chromium.launch({
      executablePath: env('CHROMIUM', '/usr/bin/chromium'),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    // Times each temperature message of a watched drive as the tab's WebSocket receives it,
    // before the page's own handler runs (listeners added first run first).
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      const watch = new Set();
      const arrivals = new Map();
      const longTasks = [];
      window.__wsBench = { watch, arrivals, messages: 0, longTasks };
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) longTasks.push(entry.duration);
      }).observe({ type: 'longtask' });
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', (event) => {
            window.__wsBench.messages += 1;
            if (watch.size === 0 || typeof event.data !== 'string' || !event.data.startsWith('{"t":"temp"')) return;
            const t = performance.timeOrigin + performance.now();
            const message = JSON.parse(event.data);
            const key = `${message.id}:${message.c}`;
            if (watch.has(message.id) && !arrivals.has(key)) arrivals.set(key, t);
          });
        }
      };
    });
    await page.goto(`${base}/login`);
    await page.locator('input[name="name"]').fill(BENCH_USER);
    await page.locator('input[name="password"]').fill(BENCH_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    await page.waitForSelector('html[data-hydrated="true"]', { timeout: 60_000 });
    await page.waitForSelector('.link-live', { timeout: 30_000 });
    if (settings.pageSize !== 100) await page.locator('nav.pager select').selectOption(String(settings.pageSize));
    const rowsShown = Math.min(settings.pageSize, total);
    await waitFor(`${rowsShown} rows in the table`, async () =>
      (await page.locator('table.drives tbody tr').count()) === rowsShown, 30_000);
    phase('dashboard open in Chromium');
    await page.evaluate(() => {
      const tbody = document.querySelector('table.drives tbody');
      const bench = { pending: new Map(), seen: [] };
      window.__bench = bench;
      const check = () => {
        const t = performance.timeOrigin + performance.now();
        for (const [id, expected] of bench.pending) {
          const cell = expected.cell;
          if (cell && cell.textContent === expected.text) {
            bench.seen.push({ key: expected.key, t });
            bench.pending.delete(id);
          }
        }
      };
      new MutationObserver(check).observe(tbody, { subtree: true, childList: true, characterData: true });
    });

    // Measured drives: some of every host, on the page shown, never touched by the churn.
    const byId = new Map(drives.map((d) => [d.serial, d]));
    const shownIds = new Set(
      await page.locator('table.drives tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id))),
    );
    const measured = [];
    for (let n = MEASURED_FIRST; n <= MEASURED_LAST; n++) {
      for (const host of fleet.info.hosts) {
        const drive = byId.get(host.serials[n]);
        if (drive && shownIds.has(drive.id)) measured.push({ host: host.name, serial: drive.serial, id: drive.id, celsius: drive.temperature_c });
      }
    }
    if (measured.length === 0) throw new Error('no measured drive is on the page shown');
    for (const client of clients) for (const drive of measured) client.watch.add(drive.id);
    await page.evaluate((ids) => ids.forEach((id) => window.__wsBench.watch.add(id)), measured.map((d) => d.id));

    // Clocks are compared while the tab is idle (a busy main thread delays the round trip).
    const pageClockBefore = await offsetOf(() => page.evaluate(() => performance.timeOrigin + performance.now()));
    const fleetClockBefore = await offsetOf(async () => (await json(`${control}/clock`)).ms);
    await json(`${control}/churn`, { method: 'POST', body: { per_second: settings.churnPerSecond, skip_first: MEASURED_LAST + 1 } });
    log(`background churn: ${settings.churnPerSecond} drive changes a second; warming up`);
    await sleep(5000);

    const windowStart = Date.now();
    const cpuWindowStart = cpuSeconds(serverPid);
    const fleetCpuStart = cpuSeconds(processes.fleet.pid);
    const chromiumCpuStart = chromiumCpuSeconds();
    const machineStart = machineBusySeconds();
    const nodeCpuStart = process.cpuUsage();
    // The tab's main thread: how busy it is (Chromium's own counters, in seconds).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const mainThread = async () =>
      Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const mainAtStart = await mainThread();
    const tabCountsAtStart = await page.evaluate(() => window.__wsBench.messages);
    await page.evaluate(() => window.__wsBench.longTasks.splice(0));
    clients[0].timeline = [];
    const unchangedAtStart = clients[0].unchangedTemps;
    const tempsAtStart = clients[0].byType.get('temp')?.count ?? 0;
    const countsAtWindow = sumCounts(clients.map((c) => c.counts()));
    const churnAtWindow = (await json(`${control}/stats`)).churn_changes;

    const latency = {};
    const samples = { read: [], now: [] };
    let cursor = 0;
    for (const mode of ['read', 'now']) {
      log(`latency, ${mode === 'read' ? 'read → DOM' : 'change → DOM'}: ${settings.samples} changes`);
      const changes = [];
      const lastChange = new Map(); // drive id -> its latest change
      const inflight = [];
      for (let i = 0; i < settings.samples; i++) {
        const drive = measured[cursor++ % measured.length];
        // Wait until this drive's previous change has reached the page.
        await waitFor('the previous change of a drive', () =>
          page.evaluate((id) => !window.__bench.pending.has(id), drive.id), 15_000, 20);
        const celsius = drive.celsius >= 40 ? drive.celsius - 10 : drive.celsius + 10;
        drive.celsius = celsius;
        const key = `${mode}-${i}`;
        // The cell is looked up here, once: rows are keyed, so it stays the same element.
        // A drive alternates between two values, so arrivals are keyed by value only until the
        // drive's next change: its previous change (which has reached the page) takes its
        // arrivals with it now, and the keys of both values start afresh.
        const previous = lastChange.get(drive.id);
        const stale = [`${drive.id}:${celsius}`];
        if (previous) {
          const previousKey = `${drive.id}:${previous.celsius}`;
          previous.arrivals = clients.map((c) => c.arrivals.get(previousKey)).filter((t) => t !== undefined);
          previous.tabArrival = await page.evaluate((k) => window.__wsBench.arrivals.get(k), previousKey);
          stale.push(previousKey);
        }
        for (const client of clients) for (const k of stale) client.arrivals.delete(k);
        await page.evaluate(([id, text, key, stale]) => {
          for (const k of stale) window.__wsBench.arrivals.delete(k);
          const cell = document.querySelector(`table.drives tbody tr[data-id="${id}"] span.temp`);
          window.__bench.pending.set(id, { text, key, cell });
        }, [drive.id, `${celsius} °C`, key, stale]);
        const change = { key, drive, celsius };
        lastChange.set(drive.id, change);
        changes.push(change);
        inflight.push(
          json(`${control}/temperature`, { method: 'POST', body: { host: drive.host, serial: drive.serial, celsius, at: mode } })
            .then((answer) => { change.appliedMs = answer.applied_ms; })
            .catch((error) => { change.error = String(error); }),
        );
        // Random spacing: changes land at every phase of the server's read interval.
        await sleep(40 + Math.random() * 120);
      }
      await Promise.all(inflight);
      await waitFor('every change to reach the page', () => page.evaluate(() => window.__bench.pending.size === 0), 20_000, 50)
        .catch(() => log('some changes never reached the page'));
      const seen = new Map((await page.evaluate(() => window.__bench.seen.splice(0))).map((s) => [s.key, s.t]));
      await page.evaluate(() => window.__bench.pending.clear());
      const tabArrivals = new Map(await page.evaluate(() => [...window.__wsBench.arrivals]));
      const values = [];
      const parts = { server: [], fanOut: [], clientToTab: [], tabToDom: [] };
      let missing = 0;
      for (const change of changes) {
        const domPage = seen.get(change.key);
        if (domPage === undefined || change.appliedMs === undefined) {
          missing += 1;
          continue;
        }
        const dom = domPage - pageClockBefore.offset;
        const applied = change.appliedMs - fleetClockBefore.offset;
        values.push(dom - applied);
        const sample = { host: change.drive.host, at_ms: applied, total_ms: dom - applied };
        samples[mode].push(sample);
        const key = `${change.drive.id}:${change.celsius}`;
        const arrivals = change.arrivals ?? clients.map((c) => c.arrivals.get(key)).filter((t) => t !== undefined);
        if (arrivals.length) {
          sample.to_first_client_ms = Math.min(...arrivals) - applied;
          parts.server.push(Math.min(...arrivals) - applied);
          parts.fanOut.push(Math.max(...arrivals) - Math.min(...arrivals));
        }
        const tab = change.arrivals ? change.tabArrival : tabArrivals.get(key);
        if (tab !== undefined) parts.tabToDom.push(domPage - tab);
        if (tab !== undefined) sample.tab_to_dom_ms = domPage - tab;
        if (tab !== undefined && arrivals.length) {
          parts.clientToTab.push(tab - pageClockBefore.offset - Math.min(...arrivals));
        }
      }
      for (const client of clients) client.arrivals.clear();
      await page.evaluate(() => window.__wsBench.arrivals.clear());
      latency[mode] = {
        ...summary(values),
        missing,
        to_first_client: summary(parts.server),
        client_spread: summary(parts.fanOut),
        first_client_to_tab_message: summary(parts.clientToTab),
        tab_message_to_dom: summary(parts.tabToDom),
      };
    }

    phase('latency measured (tab open, churn running)');
    log(`SSR: ${settings.ssrRequests} × GET / with ${total} drives`);
    const ssrStart = Date.now();
    const cpuAtSsr = cpuSeconds(serverPid);
    await request(`${base}/`); // warm-up
    const ssr = { total: [], firstByte: [], bytes: 0 };
    for (let i = 0; i < settings.ssrRequests; i++) {
      const answer = await request(`${base}/`, { headers: { accept: 'text/html', 'accept-encoding': 'br, gzip' } });
      if (answer.status !== 200) throw new Error(`GET / answered ${answer.status}`);
      ssr.total.push(answer.t1 - answer.t0);
      ssr.firstByte.push(answer.firstByte - answer.t0);
      ssr.bytes = answer.data.length;
      ssr.encoding = answer.headers['content-encoding'] ?? 'identity';
    }

    const windowEnd = Date.now();
    phase(`after ${settings.ssrRequests} SSR requests`);
    const cpuWindow = cpuSeconds(serverPid) - cpuWindowStart;
    const cpuSteady = cpuAtSsr - cpuWindowStart;
    const steadySecs = (ssrStart - windowStart) / 1000;
    const fleetCpu = cpuSeconds(processes.fleet.pid) - fleetCpuStart;
    const chromiumCpu = chromiumCpuSeconds() - chromiumCpuStart;
    const machineBusy = machineBusySeconds() - machineStart;
    const nodeCpu = process.cpuUsage(nodeCpuStart);
    const mainAtEnd = await mainThread();
    const tabMessages = (await page.evaluate(() => window.__wsBench.messages)) - tabCountsAtStart;
    const longTasks = await page.evaluate(() => window.__wsBench.longTasks.splice(0));
    // How bursty the deltas are: the share of messages in the busiest 100 ms of each second.
    const timeline = clients[0].timeline;
    const unchangedTemps = clients[0].unchangedTemps - unchangedAtStart;
    const tempsInWindow = (clients[0].byType.get('temp')?.count ?? 0) - tempsAtStart;
    clients[0].timeline = undefined;
    const perSecond = new Map();
    for (const t of timeline) {
      const second = Math.floor(t / 1000);
      const slots = perSecond.get(second) ?? new Array(10).fill(0);
      slots[Math.floor((t % 1000) / 100)] += 1;
      perSecond.set(second, slots);
    }
    const perSecondCounts = [...perSecond.values()].map((slots) => slots.reduce((a, b) => a + b, 0));
    const busiestSecond = perSecondCounts.length ? Math.max(...perSecondCounts) : 0;
    const busiestShare =
      [...perSecond.values()].reduce((sum, slots) => sum + Math.max(...slots), 0) / Math.max(1, timeline.length);
    const busy = (name) => mainAtEnd[name] - mainAtStart[name];
    const cpuTotal = cpuSeconds(serverPid) - cpuAtStart;
    const churnInWindow = (await json(`${control}/stats`)).churn_changes - churnAtWindow;
    await json(`${control}/churn`, { method: 'POST', body: { per_second: 0 } });
    await sleep(2000);
    const pageClockAfter = await offsetOf(() => page.evaluate(() => performance.timeOrigin + performance.now()));
    const fleetClockAfter = await offsetOf(async () => (await json(`${control}/clock`)).ms);
    const memory = memoryKiB(serverPid);
    sampler.stop();
    const windowRss = sampler.between(windowStart, windowEnd);
    const countsNow = sumCounts(clients.map((c) => c.counts()));
    const inWindow = diffCounts(countsNow, countsAtWindow);
    const duringSweep = afterSweep;

    const perUpdate = (counts) => {
      const temp = counts.temp ?? { count: 0, frameBytes: 0, payloadBytes: 0, max: 0 };
      const drive = counts.drive ?? { count: 0, frameBytes: 0, payloadBytes: 0, max: 0 };
      const count = temp.count + drive.count;
      return {
        updates: count,
        bytes_per_update: count ? (temp.frameBytes + drive.frameBytes) / count : NaN,
        temp: { count: temp.count, bytes_each: temp.count ? temp.frameBytes / temp.count : NaN, max: temp.max },
        drive: { count: drive.count, bytes_each: drive.count ? drive.frameBytes / drive.count : NaN, max: drive.max },
      };
    };
    const windowSecs = (windowEnd - windowStart) / 1000;
    const report = {
      when: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memory_mib: Math.round(os.totalmem() / 2 ** 20), load_at_start: loadAtStart, load_at_end: os.loadavg() },
      settings: { ...settings, rows_shown: rowsShown, measured_drives: measured.length, server_env: serverEnv, server_args: serverArgs },
      targets,
      server: {
        ready_after_restart_ms: readyMs,
        smart_sweep_secs: sweepSecs,
      },
      latency_ms: {
        read_to_dom: latency.read,
        change_to_dom: latency.now,
        clock: {
          page_offset_ms: pageClockBefore.offset,
          page_drift_ms: pageClockAfter.offset - pageClockBefore.offset,
          page_rtt_ms: pageClockBefore.rtt,
          fleet_offset_ms: fleetClockBefore.offset,
          fleet_drift_ms: fleetClockAfter.offset - fleetClockBefore.offset,
          fleet_rtt_ms: fleetClockBefore.rtt,
        },
      },
      wire: {
        clients: settings.clients,
        window: perUpdate(inWindow),
        start_and_sweep: perUpdate(duringSweep),
        snapshot_bytes: clients[0]?.lastSnapshotBytes ?? NaN,
        snapshot_largest_frame_bytes: clients[0]?.largestFrame ?? NaN,
        snapshots_per_client: clients.map((c) => c.snapshots).reduce((a, b) => Math.max(a, b), 0),
        clients_closed: clients.filter((c) => c.closed).length,
        churn_changes_in_window: churnInWindow,
        busiest_100ms_share: busiestShare,
        busiest_second_updates: busiestSecond,
        median_second_updates: quantile(perSecondCounts, 0.5),
        temp_messages_per_client: tempsInWindow,
        temp_messages_changing_nothing: unchangedTemps,
      },
      memory_phases: phases,
      memory_mib: {
        rss_now: memory.rss / 1024,
        rss_window_max: windowRss.length ? Math.max(...windowRss) / 1024 : NaN,
        rss_window_p50: quantile(windowRss, 0.5) / 1024,
        peak_hwm: memory.hwm / 1024,
      },
      cpu: {
        window_secs: windowSecs,
        server_cpu_secs: cpuWindow,
        server_percent_of_one_core: (100 * cpuWindow) / windowSecs,
        steady_secs: steadySecs,
        server_steady_percent_of_one_core: (100 * cpuSteady) / steadySecs,
        server_cpu_secs_since_start: cpuTotal,
        fleet_percent_of_one_core: (100 * fleetCpu) / windowSecs,
        chromium_percent_of_one_core: (100 * chromiumCpu) / windowSecs,
        driver_percent_of_one_core: (nodeCpu.user + nodeCpu.system) / 1e4 / windowSecs,
        machine_percent_of_one_core: (100 * machineBusy) / windowSecs,
        others_percent_of_one_core:
          (100 * (machineBusy - cpuWindow - fleetCpu - chromiumCpu - (nodeCpu.user + nodeCpu.system) / 1e6)) / windowSecs,
      },
      tab_main_thread: {
        messages: tabMessages,
        busy_percent: (100 * busy('TaskDuration')) / windowSecs,
        script_percent: (100 * busy('ScriptDuration')) / windowSecs,
        layout_and_style_percent: (100 * (busy('LayoutDuration') + busy('RecalcStyleDuration'))) / windowSecs,
        busy_ms_per_message: (1000 * busy('TaskDuration')) / tabMessages,
        long_tasks: { count: longTasks.length, total_ms: longTasks.reduce((a, b) => a + b, 0), max_ms: longTasks.length ? Math.max(...longTasks) : 0 },
      },
      ssr_ms: { total: summary(ssr.total), first_byte: summary(ssr.firstByte), bytes: ssr.bytes, encoding: ssr.encoding },
      page_errors: pageErrors,
      samples,
    };
    const text = render(report);
    console.log(`\n${text}`);
    fs.mkdirSync(reportDir, { recursive: true });
    fs.writeFileSync(path.join(reportDir, 'bench-live.txt'), text);
    fs.writeFileSync(path.join(reportDir, 'bench-live.json'), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${path.relative(root, path.join(reportDir, 'bench-live.txt'))} and bench-live.json`);
  } finally {
    sampler?.stop();
    for (const client of clients) client.close();
    await browser?.close().catch(() => {});
    await stopProcess(processes.server);
    await stopProcess(processes.fleet);
    agent.destroy();
    if (env('BENCH_KEEP', '') === '') fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

function render(r) {
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
  const mib = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} MiB` : 'n/a');
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  const read = r.latency_ms.read_to_dom;
  const change = r.latency_ms.change_to_dom;
  const wire = r.wire.window;
  const rows = [
    ['latency read → DOM (pipeline)', `p50 ${ms(read.p50)}  p90 ${ms(read.p90)}  p99 ${ms(read.p99)}  max ${ms(read.max)}  (n=${read.n}, missing ${read.missing})`, `p99 ≤ ${r.targets.p99Ms} ms`, verdict(read.p99 <= r.targets.p99Ms)],
    ['latency change → DOM (with polling)', `p50 ${ms(change.p50)}  p90 ${ms(change.p90)}  p99 ${ms(change.p99)}  max ${ms(change.max)}  (n=${change.n}, missing ${change.missing})`, `p99 ≤ ${r.targets.p99Ms} ms`, verdict(change.p99 <= r.targets.p99Ms)],
    ['  read → first /live client', `p50 ${ms(read.to_first_client.p50)}  p99 ${ms(read.to_first_client.p99)}  (server: API answer, SQLite, hub, send)`, '', ''],
    ['  spread over the clients', `p50 ${ms(read.client_spread.p50)}  p99 ${ms(read.client_spread.p99)}  (first to last of ${r.settings.clients} clients)`, '', ''],
    ['  first client → tab message', `p50 ${ms(read.first_client_to_tab_message.p50)}  p99 ${ms(read.first_client_to_tab_message.p99)}  (the tab's socket, Chromium's network process)`, '', ''],
    ['  tab message → DOM', `p50 ${ms(read.tab_message_to_dom.p50)}  p99 ${ms(read.tab_message_to_dom.p99)}  (browser: parse, store, render)`, '', ''],
    ['bytes per drive update', `${wire.bytes_per_update.toFixed(1)} B (temp ${wire.temp.bytes_each.toFixed(1)} B × ${wire.temp.count}, drive ${Number.isFinite(wire.drive.bytes_each) ? wire.drive.bytes_each.toFixed(1) : 'n/a'} B × ${wire.drive.count})`, `≤ ${r.targets.bytesPerUpdate} B`, verdict(wire.bytes_per_update <= r.targets.bytesPerUpdate)],
    ['full-row update (start-up sweep)', `${Number.isFinite(r.wire.start_and_sweep.drive.bytes_each) ? r.wire.start_and_sweep.drive.bytes_each.toFixed(1) : 'n/a'} B each (max ${r.wire.start_and_sweep.drive.max} B, ${r.wire.start_and_sweep.drive.count} received)`, `≤ ${r.targets.bytesPerUpdate} B`, verdict(!(r.wire.start_and_sweep.drive.bytes_each > r.targets.bytesPerUpdate))],
    ['server RSS while measuring', `p50 ${mib(r.memory_mib.rss_window_p50)}, max ${mib(r.memory_mib.rss_window_max)}`, `≤ ${r.targets.rssMiB} MB`, verdict(r.memory_mib.rss_window_max <= r.targets.rssMiB)],
    ['server peak RSS (VmHWM)', `${mib(r.memory_mib.peak_hwm)} (whole run, start-up and connects included)`, `≤ ${r.targets.rssMiB} MB`, verdict(r.memory_mib.peak_hwm <= r.targets.rssMiB)],
    ['server CPU', `${r.cpu.server_steady_percent_of_one_core.toFixed(1)} % of one core while timing latency (${r.cpu.steady_secs.toFixed(0)} s), ${r.cpu.server_percent_of_one_core.toFixed(1)} % with the SSR requests (${r.cpu.window_secs.toFixed(0)} s); fleet ${r.cpu.fleet_percent_of_one_core.toFixed(1)} %, Chromium ${r.cpu.chromium_percent_of_one_core.toFixed(1)} %, driver ${r.cpu.driver_percent_of_one_core.toFixed(1)} %; other programs ${r.cpu.others_percent_of_one_core.toFixed(0)} % (machine ${r.cpu.machine_percent_of_one_core.toFixed(0)} % of ${r.machine.cpus * 100} %)`, '—', ''],
    ['tab main thread', `busy ${r.tab_main_thread.busy_percent.toFixed(0)} % (script ${r.tab_main_thread.script_percent.toFixed(0)} %, layout+style ${r.tab_main_thread.layout_and_style_percent.toFixed(0)} %), ${r.tab_main_thread.busy_ms_per_message.toFixed(2)} ms per message (${r.tab_main_thread.messages} messages); ${r.tab_main_thread.long_tasks.count} tasks over 50 ms, longest ${r.tab_main_thread.long_tasks.max_ms.toFixed(0)} ms`, '—', ''],
    [`SSR GET / (${r.settings.hosts * r.settings.drivesPerHost} drives)`, `p50 ${ms(r.ssr_ms.total.p50)}  p99 ${ms(r.ssr_ms.total.p99)}  first byte p50 ${ms(r.ssr_ms.first_byte.p50)}  (${(r.ssr_ms.bytes / 1024).toFixed(0)} KiB ${r.ssr_ms.encoding}, n=${r.ssr_ms.total.n})`, '—', ''],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = [
    `burn-in dashboard live benchmark, ${r.when}`,
    `${r.settings.hosts} hosts × ${r.settings.drivesPerHost} drives, ${r.settings.clients} WebSocket clients + 1 Chromium tab showing ${r.settings.rows_shown} rows; ` +
      `server reads temperatures every ${r.settings.temperatureSecs} s; background ${r.settings.churnPerSecond} drive changes/s; ` +
      `${r.machine.cpus} CPUs (${r.machine.model}); server environment: ` +
      (Object.entries(r.settings.server_env).map(([k, v]) => `${k}=${v}`).join(' ') || 'none') +
      (r.settings.server_args ? `; server flags: ${r.settings.server_args}` : ''),
    '',
    ...rows.map((row) => `${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2].padEnd(widths[2])}  ${row[3]}`),
    '',
    `notes: change → DOM includes the wait for the server's next temperature read (uniform over ` +
      `${r.settings.temperatureSecs} s); read → DOM starts when the server reads the changed value. ` +
      `Bytes are WebSocket frames (header + JSON) as read from the socket, per client; ` +
      `the snapshot on connect is ${(r.wire.snapshot_bytes / 1024).toFixed(0)} KiB in frames of at most ${(r.wire.snapshot_largest_frame_bytes / 1024).toFixed(0)} KiB. ` +
      `${r.wire.churn_changes_in_window} background changes in the window; ` +
      `${(100 * r.wire.busiest_100ms_share).toFixed(0)} % of the drive updates arrive in the busiest 100 ms of their second; ` +
      `updates per second: median ${r.wire.median_second_updates}, most ${r.wire.busiest_second_updates}; ` +
      `${r.wire.temp_messages_changing_nothing} of ${r.wire.temp_messages_per_client} temperature messages per client repeat the value the client has; ${r.wire.clients_closed} clients closed; ` +
      `at most ${r.wire.snapshots_per_client} snapshot(s) per client. Server ready ${r.server.ready_after_restart_ms} ms after restart; ` +
      `start-up SMART sweep ${r.server.smart_sweep_secs.toFixed(0)} s. Clock offsets: page ${r.latency_ms.clock.page_offset_ms.toFixed(2)} ms ` +
      `(drift ${r.latency_ms.clock.page_drift_ms.toFixed(2)} ms), fleet ${r.latency_ms.clock.fleet_offset_ms.toFixed(2)} ms ` +
      `(drift ${r.latency_ms.clock.fleet_drift_ms.toFixed(2)} ms).` +
      (r.page_errors.length ? ` Page errors: ${r.page_errors.join(' | ')}` : ''),
    `server RSS by step: ${r.memory_phases.map((p) => `${p.phase}: ${p.rss_mib.toFixed(1)} MiB (anon ${p.anon_mib.toFixed(1)}, file ${p.file_mib.toFixed(1)}), ${p.threads} threads`).join('; ')}.`,
    `load average at start ${r.machine.load_at_start.map((l) => l.toFixed(2)).join(' ')}, at end ${r.machine.load_at_end.map((l) => l.toFixed(2)).join(' ')}.`,
  ];
  return `${lines.join('\n')}\n`;
}

main().catch((error) => {
  console.error(`[bench] failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
