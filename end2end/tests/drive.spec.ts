import { test, expect, type APIRequestContext } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { driveId, hydrated, watchErrors } from './helpers';

const screens = path.resolve(__dirname, '../../reports/screens');

// A drive's page after two burn-ins with a move between them. The demo's 71T0A0AAFVGG sits in
// bay 11; two idle days (simulated) after its first burn-in a technician moves it to bay 24,
// where the host names it anew. The page must show both places with their dates, both jobs
// (each in the bay it ran in), and the trend of its counters across the runs.
const SERIAL = '71T0A0AAFVGG';

/** Surface-tests the drive and waits for the job's end; returns the job's id and state. */
async function burnIn(request: APIRequestContext, id: number): Promise<[number, string]> {
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['surface'], confirm_serial: SERIAL },
  });
  expect(start.status(), await start.text()).toBe(201);
  const job = (await start.json())[0].id as number;
  await expect
    .poll(async () => (await (await request.get(`/api/v1/burnin/${job}`)).json()).state, { timeout: 90_000 })
    .toMatch(/passed|failed|cancelled|interrupted/);
  return [job, (await (await request.get(`/api/v1/burnin/${job}`)).json()).state];
}

test('a drive burned in twice and moved between bays shows both places and both jobs', async ({ page, request }) => {
  test.setTimeout(240_000);
  const errors = watchErrors(page);
  const id = await driveId(request, SERIAL);
  const before = await (await request.get(`/api/v1/drives/${id}`)).json();

  const [first, firstState] = await burnIn(request, id);
  expect(firstState).toBe('passed');
  // The move: the inventory finds the drive under another device name.
  await expect
    .poll(async () => (await (await request.get(`/api/v1/drives/${id}`)).json()).devname, { timeout: 60_000 })
    .not.toBe(before.devname);
  await expect
    .poll(async () => (await (await request.get(`/api/v1/drives/${id}`)).json()).state, { timeout: 30_000 })
    .toBe('passed');
  const moved = await (await request.get(`/api/v1/drives/${id}`)).json();
  const [second, secondState] = await burnIn(request, id);
  expect(secondState).toBe('passed');

  // Reached as a person would: the drive's drawer on the dashboard links to its page.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto('/');
  await hydrated(page);
  await page.locator(`tr[data-serial="${SERIAL}"]`).getByRole('button', { name: SERIAL }).click();
  await page.getByTestId('drive-record-link').click();
  await expect(page).toHaveURL(new RegExp(`/drives/${SERIAL}$`));
  await hydrated(page);
  await expect(page.getByTestId('drive-page')).toHaveAttribute('data-serial', SERIAL);

  // Both places, newest first: bay 24 now, bay 11 left, each with its dates. (A poll that
  // caught the move between the host's two disk calls may add a place without a bay between
  // them: the newest and the oldest are the ones asserted.)
  const places = page.locator('[data-testid="drive-places"] tbody tr');
  await expect(places.nth(1)).toBeVisible();
  const newest = places.first();
  const oldest = places.last();
  await expect(newest).toHaveAttribute('data-current', 'true');
  await expect(newest).toHaveAttribute('data-slot', '24');
  await expect(newest).toContainText(moved.devname);
  await expect(oldest).toHaveAttribute('data-current', 'false');
  await expect(oldest).toHaveAttribute('data-slot', '11');
  await expect(oldest).toContainText(before.devname);
  await expect(oldest).toContainText('moved');
  const dates = await oldest.locator('td').evaluateAll((tds) => tds.slice(-2).map((td) => td.textContent ?? ''));
  for (const date of dates) expect(date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

  // Both jobs, newest first, each in the bay it ran in, each linking to its page.
  const jobs = page.locator('[data-testid="drive-jobs"] tbody tr');
  await expect(jobs).toHaveCount(2);
  await expect(jobs.nth(0)).toHaveAttribute('data-job', String(second));
  await expect(jobs.nth(0)).toContainText(`${moved.devname}, bay 24`);
  await expect(jobs.nth(1)).toHaveAttribute('data-job', String(first));
  await expect(jobs.nth(1)).toContainText(`${before.devname}, bay 11`);
  for (const job of [first, second]) {
    await expect(page.locator(`[data-testid="drive-jobs"] a[href="/jobs/${job}"]`)).toBeVisible();
  }

  // The trend: a point per run, power-on hours growing, as a chart and as numbers.
  const trend = page.locator('[data-testid="trend-table"] tbody tr');
  await expect(trend).toHaveCount(2);
  const hours = await trend.evaluateAll((rows) => rows.map((r) => Number(r.querySelectorAll('td')[2]?.textContent)));
  expect(hours[1]).toBeGreaterThan(hours[0]);
  await expect(page.locator('[data-testid="hours-chart"] svg')).toBeVisible();

  fs.mkdirSync(screens, { recursive: true });
  await page.screenshot({ path: path.join(screens, 'drive-1280.png'), fullPage: true });

  // On a phone it fits the width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await hydrated(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `the drive page is wider than a phone by ${overflow} px`).toBeLessThanOrEqual(0);

  // The page and the API tell the same record.
  const record = await (await request.get(`/api/v1/drives/by-serial/${SERIAL}`)).json();
  const slots = record.places.map((p: { slot: number | null }) => p.slot);
  expect([slots[0], slots[slots.length - 1]]).toEqual([24, 11]);
  expect(record.jobs.map((j: { id: number }) => j.id)).toEqual([second, first]);
  expect(errors).toEqual([]);
});
