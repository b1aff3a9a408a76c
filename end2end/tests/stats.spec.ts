import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { driveId, hydrated, watchErrors } from './helpers';

const screens = path.resolve(__dirname, '../../reports/screens');

// The statistics page against the demo fleet: two burn-ins run to their end (FAIL001, a
// Seagate that fails its surface test with 24 bad blocks, and VGH1K2L3, a Western Digital that
// passes) and the page's tables and charts count them. Other specs leave jobs of their own in
// the same database, so the test reads the figures first and asserts what the two jobs added.

/** Surface-tests `serials` together and waits until every job has ended. */
async function burnIn(request: APIRequestContext, serials: string[]): Promise<Record<string, string>> {
  const ids = [];
  for (const serial of serials) ids.push(await driveId(request, serial));
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: ids, stages: ['surface'], confirm_phrase: `ERASE ${serials.length} DRIVES` },
  });
  expect(start.status(), await start.text()).toBe(201);
  const jobs = (await start.json()).map((j: { id: number }) => j.id) as number[];
  const states: Record<string, string> = {};
  for (const [index, job] of jobs.entries()) {
    await expect
      .poll(async () => (await (await request.get(`/api/v1/burnin/${job}`)).json()).state, { timeout: 60_000 })
      .toMatch(/passed|failed|cancelled|interrupted/);
    states[serials[index]] = (await (await request.get(`/api/v1/burnin/${job}`)).json()).state;
  }
  return states;
}

/** A figure's table: each row's cells, keyed by its first cell. */
async function table(page: Page, figure: string): Promise<Map<string, string[]>> {
  const rows = await page
    .locator(`[data-testid="figure-${figure}"] table tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td.textContent ?? '').trim())));
  return new Map(rows.map((cells) => [cells[0], cells.slice(1)]));
}

/** The number in column `column` (after the label) of the row labelled `label`; 0 without one. */
function cell(rows: Map<string, string[]>, label: string, column: number): number {
  const row = rows.get(label);
  return row ? Number.parseFloat(row[column]) : 0;
}

/** Everything the test compares, read from the open page. */
async function figures(page: Page) {
  const vendors = await table(page, 'by-vendor');
  const stages = await table(page, 'failed-stage');
  const reasons = await table(page, 'failure-reason');
  const badBlocks = await table(page, 'bad-blocks');
  const days = await table(page, 'per-day');
  const today = new Date().toISOString().slice(0, 10);
  return {
    seagateJobs: cell(vendors, 'Seagate', 0),
    seagateFailed: cell(vendors, 'Seagate', 3),
    wdJobs: cell(vendors, 'Western Digital', 0),
    wdPassed: cell(vendors, 'Western Digital', 1) + cell(vendors, 'Western Digital', 2),
    surfaceFailed: cell(stages, 'Surface test', 0),
    badBlockReason: cell(reasons, 'Bad blocks', 0),
    none: cell(badBlocks, '0', 0),
    tens: cell(badBlocks, '10–99', 0),
    endedToday: cell(days, today, 0),
    failedToday: cell(days, today, 1),
  };
}

test('the statistics page counts finished burn-ins in its tables and charts', async ({ page, request }) => {
  test.setTimeout(150_000);
  const errors = watchErrors(page);
  await page.goto('/stats');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Statistics', level: 1 })).toBeVisible();
  const before = await figures(page);

  const states = await burnIn(request, ['FAIL001', 'VGH1K2L3']);
  expect(states).toEqual({ FAIL001: 'failed', VGH1K2L3: 'passed' });

  // Reached from the header, as a person would.
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('link', { name: 'Statistics' }).click();
  await expect(page).toHaveURL(/\/stats$/);
  await expect(page.getByTestId('figure-by-vendor')).toBeVisible();
  // Each model's drives against their peers has its place, filled or not.
  await expect(page.getByTestId('figure-throughput-by-model')).toBeVisible();
  await expect(page.getByTestId('figure-throughput-outliers')).toBeVisible();
  const after = await figures(page);

  expect(after.seagateJobs - before.seagateJobs).toBe(1);
  expect(after.seagateFailed - before.seagateFailed).toBe(1);
  expect(after.wdJobs - before.wdJobs).toBe(1);
  expect(after.wdPassed - before.wdPassed).toBe(1);
  expect(after.surfaceFailed - before.surfaceFailed).toBe(1);
  expect(after.badBlockReason - before.badBlockReason).toBe(1);
  // FAIL001's 24 bad blocks fall in 10–99; VGH1K2L3 found none.
  expect(after.tens - before.tens).toBe(1);
  expect(after.none - before.none).toBe(1);
  expect(after.endedToday - before.endedToday).toBe(2);
  expect(after.failedToday - before.failedToday).toBe(1);

  // Each chart draws the numbers its table lists: the vendor bars' values are the pass rates.
  const vendorChart = page.locator('[data-testid="figure-by-vendor"] .chart-wrap svg');
  await expect(vendorChart).toHaveAttribute('role', 'img');
  await expect(vendorChart).toHaveAttribute('aria-label', 'Pass rate by vendor');
  const vendors = await table(page, 'by-vendor');
  for (const vendor of ['Seagate', 'Western Digital']) {
    const rate = cell(vendors, vendor, 4);
    const bar = vendorChart.locator(`g.chart-row[data-label="${vendor}"]`);
    await expect(bar).toHaveCount(1);
    expect(Number.parseFloat((await bar.getAttribute('data-value')) ?? 'NaN')).toBeCloseTo(rate, 1);
    await expect(bar.locator('title')).toContainText(`${vendor}: `);
  }
  const badBlocks = await table(page, 'bad-blocks');
  const tensBar = page.locator('[data-testid="figure-bad-blocks"] g.chart-row[data-label="10–99"]');
  await expect(tensBar).toHaveAttribute('data-value', String(cell(badBlocks, '10–99', 0)));
  // The per-day chart has a point for each of the 90 days, on two lines with a legend.
  const perDay = page.locator('[data-testid="figure-per-day"] svg');
  await expect(perDay.locator('g.chart-series[data-points="90"]')).toHaveCount(2);
  await expect(perDay.locator('.chart-legend')).toContainText('Failed');

  // The summary states the same totals.
  await expect(page.getByTestId('stats-summary')).toContainText(/\d+ finished burn-ins: \d+ passed/);
  const everywhere = await page.getByTestId('stats-summary').innerText();

  // Filters by host and date live in the address: one host's figures, then a range before
  // any job ended, then a bad date named.
  await page.locator('select[name="host_id"]').selectOption({ label: 'truenas-lab' });
  await page.getByTestId('apply-stats').click();
  await expect(page).toHaveURL(/host_id=\d+/);
  await expect(page.getByTestId('stats-summary')).toContainText(/finished burn-ins/);
  const api = await (await request.get(`/api/v1/stats?${new URL(page.url()).searchParams}`)).json();
  await expect(page.getByTestId('stats-summary')).toContainText(`${api.judged} finished burn-ins`);
  await page.goto('/stats?to=2001-01-01');
  await expect(page.getByTestId('stats-summary')).toContainText('No finished burn-in matches');
  // (In a page of its own: the browser logs the refused request, which is the point.)
  const refused = await page.context().newPage();
  await refused.goto('/stats?from=soon');
  await expect(refused.getByRole('alert')).toContainText('from');
  await refused.close();
  await page.goto('/stats');
  await expect(page.getByTestId('stats-summary')).toHaveText(everywhere);

  // The whole page as a desktop shows it, for the README's screenshots.
  fs.mkdirSync(screens, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(screens, 'stats-1280.png'), fullPage: true });

  // On a phone each chart stacks above its table and stays within the screen.
  await page.setViewportSize({ width: 390, height: 800 });
  const chartBox = await page.locator('[data-testid="figure-by-vendor"] .chart-wrap').boundingBox();
  const tableBox = await page.locator('[data-testid="figure-by-vendor"] .stats-table').boundingBox();
  expect(chartBox && tableBox).toBeTruthy();
  if (chartBox && tableBox) {
    expect(chartBox.width).toBeLessThanOrEqual(390);
    expect(tableBox.y).toBeGreaterThanOrEqual(chartBox.y + chartBox.height - 1);
  }
  expect(errors).toEqual([]);
});
