import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

// The server under test: the binary the test command built, on its own port, against a fresh
// SQLite file, with the built-in simulated fleet (reached over its WebSocket API and SSH like
// any NAS) running fast. Debian's Chromium drives the page (no browser download).
const port = Number(process.env.E2E_PORT ?? 3107);
const root = path.resolve(__dirname, '..');
const server = process.env.E2E_SERVER_BIN ?? path.join(root, 'target/debug/burnin-server');
// The config is read again in each worker: the folder is made once, by the runner, and its
// workers inherit it through the environment.
process.env.E2E_WORK ??= fs.mkdtempSync(path.join(os.tmpdir(), 'burnin-e2e-'));
const work = process.env.E2E_WORK;
const database = `sqlite://${work}/burnin.db`;
// Where the setup project leaves the admin's signed-in state for the other tests.
process.env.E2E_STATE_DIR = work;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'off',
  },
  projects: [
    // The first run, as a newcomer meets it: the page asks for the first admin; the session
    // it makes (and the users it adds) serve every other test.
    {
      name: 'setup',
      testMatch: /.*\.setup\.ts/,
      use: { browserName: 'chromium', launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] } },
    },
    {
      name: 'chromium',
      dependencies: ['setup'],
      use: {
        browserName: 'chromium',
        storageState: path.join(work, 'admin.json'),
        // API calls made with the admin's session come from this origin, as the page's own do
        // (the server refuses a cookie without Origin or Sec-Fetch-Site).
        extraHTTPHeaders: { Origin: `http://127.0.0.1:${port}` },
        launchOptions: {
          executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
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
        },
      },
    },
  ],
  webServer: {
    command: [
      `exec "${server}" --listen 127.0.0.1:${port} --database-url "${database}"`,
      `--site-root "${path.join(root, 'target/site')}" --simulator always --simulator-speed 40000`,
      `--poll-interval-secs 2 --temperature-interval-secs 1 --stage-poll-ms 200 --stagger-ms 0`,
    ].join(' '),
    url: `http://127.0.0.1:${port}/readyz`,
    cwd: __dirname,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
