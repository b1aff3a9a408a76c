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
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'burnin-e2e-'));
const database = `sqlite://${work}/burnin.db`;

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
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
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
