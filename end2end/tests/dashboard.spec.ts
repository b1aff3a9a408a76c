import { test, expect, type Page, type APIRequestContext } from '@playwright/test';

// Console errors and uncaught exceptions, collected per test: a CSP violation, a failed
// hydration or a panic in the wasm all land here.
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}

async function hydrated(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

/** Waits until the simulated fleet is in: both hosts online, all 26 drives listed. */
async function fleetReady(request: APIRequestContext) {
  await expect
    .poll(async () => {
      const drives = await (await request.get('/api/v1/drives')).json();
      return drives.length;
    }, { timeout: 30_000 })
    .toBe(26);
}

async function driveId(request: APIRequestContext, serial: string): Promise<number> {
  const drives = await (await request.get(`/api/v1/drives?search=${serial}`)).json();
  return drives.find((d: { serial: string }) => d.serial === serial).id;
}

const row = (page: Page, serial: string) => page.locator(`tr[data-serial="${serial}"]`);

test.beforeAll(async ({ request }) => {
  await fleetReady(request);
});

test('the server renders the simulated fleet before any script runs', async ({ request }) => {
  const response = await request.get('/');
  expect(response.status()).toBe(200);
  const csp = response.headers()['content-security-policy'];
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+'/);
  const html = await response.text();
  for (const text of ['FAIL001', 'truenas-lab', 'core-vault', 'pool tank', 'exported pool oldbackup']) {
    expect(html).toContain(text);
  }
});

test('the dashboard hydrates and its search filters the table', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  await expect(page.locator('.link-live')).toBeVisible();
  const rows = page.locator('table.drives tbody tr');
  await expect(rows).toHaveCount(26);
  await page.getByPlaceholder('Search serial, model, location').fill('wd80efax');
  await expect(rows).toHaveCount(3);
  await expect(page.locator('.result-count')).toContainText('3 of 26 drives');
  await page.getByPlaceholder('Search serial, model, location').fill('');
  await page.locator('select[name="host"]').selectOption({ label: 'core-vault' });
  await expect(rows).toHaveCount(5);
  expect(errors).toEqual([]);
});

test('a live change on the NAS shows in the open page without a reload', async ({ page, request }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const target = row(page, 'ZL2AB1C2');
  await expect(target.locator('.badge.state-idle')).toBeVisible();
  const before = await target.locator('.temp').textContent();
  // Every reading the row shows is kept: the drive is warm only while the test runs, and a
  // check that polls could look before and after it.
  await page.evaluate(() => {
    const shown = new Set<string>();
    (window as unknown as { __temps: Set<string> }).__temps = shown;
    new MutationObserver(() => {
      const text = document.querySelector('tr[data-serial="ZL2AB1C2"] .temp')?.textContent;
      if (text) shown.add(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  // A surface test warms the drive and changes its state: both must reach this tab by itself.
  const id = await driveId(request, 'ZL2AB1C2');
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['surface'], confirm_serial: 'ZL2AB1C2' },
  });
  expect(start.status()).toBe(201);
  const job = (await start.json())[0].id;
  // The job's end (about 15 s at the test's speed) reaches this tab by itself. Its running state
  // is not awaited: it may be over before a check sees it.
  await expect(target.locator('.badge.state-passed')).toBeVisible({ timeout: 60_000 });
  const view = await (await request.get(`/api/v1/burnin/${job}`)).json();
  expect(view.state).toBe('passed');
  // The job recorded the drive warming; the open row showed a reading other than the first.
  expect(Math.max(...view.temperatures)).toBeGreaterThan(parseFloat(before ?? ''));
  const shown: string[] = await page.evaluate(() => [...(window as unknown as { __temps: Set<string> }).__temps]);
  expect(shown.filter((t) => t !== before), `readings shown: ${shown}`).not.toEqual([]);
  expect(errors).toEqual([]);
});

test('an inline location edit is saved and survives a reload', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const cell = row(page, 'VGH1K2L5').locator('td.location');
  await cell.getByRole('button', { name: 'Edit location' }).click();
  const input = cell.locator('input');
  await input.fill('Shelf B, bay 7');
  await input.press('Enter');
  await expect(cell).toContainText('Shelf B, bay 7');
  // Escape restores the saved value.
  await cell.getByRole('button', { name: 'Edit location' }).click();
  await cell.locator('input').fill('wrong');
  await cell.locator('input').press('Escape');
  await expect(cell).toContainText('Shelf B, bay 7');
  await page.reload();
  await hydrated(page);
  await expect(row(page, 'VGH1K2L5').locator('td.location')).toContainText('Shelf B, bay 7');
  expect(errors).toEqual([]);
});

test('a batch of three burns in from the browser, FAIL001 fails and one is cancelled', async ({ page, request }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  for (const serial of ['ZJV0A1B3', 'FAIL001', 'VGH1K2L4']) {
    await row(page, serial).locator('td.select input').check();
  }
  await page.getByRole('button', { name: 'Burn in 3…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start a burn-in' });
  await expect(dialog).toBeVisible();
  await dialog.locator('input[name="long_test"]').uncheck();
  await expect(dialog.getByText('The surface test erases every selected drive.')).toBeVisible();
  const submit = dialog.getByRole('button', { name: 'Erase and test' });
  await expect(submit).toBeDisabled();
  await dialog.locator('input[name="confirmation"]').fill('ERASE 3 DRIVES');
  await expect(submit).toBeEnabled();
  await submit.click();
  await expect(dialog).toBeHidden();

  // Progress moves in the table.
  await expect(row(page, 'ZJV0A1B3').locator('progress')).toBeVisible({ timeout: 20_000 });
  await expect(row(page, 'FAIL001').locator('.badge.state-failed')).toBeVisible({ timeout: 45_000 });
  await expect(row(page, 'FAIL001').locator('.progress-text')).toContainText('24 bad blocks');
  await expect(row(page, 'ZJV0A1B3').locator('.badge.state-passed')).toBeVisible({ timeout: 45_000 });
  await expect(row(page, 'VGH1K2L4').locator('.badge.state-failed, .badge.state-passed')).toBeVisible({ timeout: 45_000 });

  // The drawer explains FAIL001's result.
  await row(page, 'FAIL001').getByRole('button', { name: 'FAIL001' }).click();
  await page.getByRole('tab', { name: 'Burn-in' }).click();
  await expect(page.locator('.reason.job-failed')).toContainText('bad blocks');
  // The verdict names its evidence: the bad blocks, the SMART counters before and after.
  const verdict = page.locator('section.verdict');
  await expect(verdict.locator('.badge.verdict-fail')).toHaveText('Fail');
  await expect(verdict.locator('li[data-rule="surface.bad_blocks"]')).toContainText('24 bad blocks');
  await expect(verdict.locator('table.deltas')).toContainText('Reallocated sectors (5)');
  await verdict.locator('details.bad-blocks summary').click();
  await expect(verdict.locator('details.bad-blocks pre')).toContainText('(byte ');
  await verdict.locator('details.report summary').click();
  await expect(verdict.locator('textarea')).toHaveValue(/Verdict: FAIL/);
  // badblocks' whole output is kept after its folder on the NAS is gone.
  const surfaceStage = page.locator('li.stage[data-kind="surface"]');
  await surfaceStage.locator('button[data-stream="stderr"]').click();
  await expect(surfaceStage.locator('pre.stage-output-text')).toContainText('Pass completed, 24 bad blocks found.');
  await surfaceStage.locator('button[data-stream="stdout"]').click();
  await expect(surfaceStage.locator('pre.stage-output-text[data-stream="stdout"]')).toContainText(/^\d+$/m);
  await page.getByRole('button', { name: 'Close the drive details' }).click();
  // The cable-error drive passes with a warning that says what to check.
  await row(page, 'ZJV0A1B3').getByRole('button', { name: 'ZJV0A1B3' }).click();
  await page.getByRole('tab', { name: 'Burn-in' }).click();
  await expect(page.locator('section.verdict .badge')).toHaveText('Pass with warnings');
  await expect(page.locator('section.verdict li[data-rule="ata.199.delta"]')).toContainText('check the cable');
  await page.getByRole('button', { name: 'Close the drive details' }).click();
  await row(page, 'FAIL001').getByRole('button', { name: 'FAIL001' }).click();
  await page.getByRole('tab', { name: 'SMART' }).click();
  await expect(page.locator('table.attributes')).toContainText('Reallocated_Sector_Ct');
  await page.getByRole('button', { name: 'Close the drive details' }).click();

  // Cancel one mid-way: ZDH1X2Y4's self-test stalls at 10 % (as a real drive's can), so its
  // job is still running whenever the click comes.
  const id = await driveId(request, 'ZDH1X2Y4');
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['short_test'] },
  });
  expect(start.status()).toBe(201);
  const job = (await start.json())[0].id;
  await expect(row(page, 'ZDH1X2Y4').locator('progress')).toBeVisible({ timeout: 20_000 });
  await row(page, 'ZDH1X2Y4').getByRole('button', { name: 'ZDH1X2Y4' }).click();
  await page.getByRole('tab', { name: 'Burn-in' }).click();
  await page.getByRole('button', { name: 'Cancel this burn-in' }).click();
  await expect(row(page, 'ZDH1X2Y4').locator('.progress-text')).toContainText('cancelled', { timeout: 20_000 });
  expect((await (await request.get(`/api/v1/burnin/${job}`)).json()).state).toBe('cancelled');
  expect(errors).toEqual([]);
});

test('disks holding data are refused in the start dialog with the reasons', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await row(page, 'WD-WX12D401AB').locator('td.select input').check();
  await page.getByRole('button', { name: 'Burn in 1…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start a burn-in' });
  await dialog.locator('input[name="confirmation"]').fill('WD-WX12D401AB');
  await dialog.getByRole('button', { name: 'Erase and test' }).click();
  await expect(dialog.getByRole('alert').last()).toContainText('pool tank');
});

test('the hosts page lists both simulated hosts online', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/hosts');
  await hydrated(page);
  for (const name of ['truenas-lab', 'core-vault']) {
    const card = page.locator(`li[data-host="${name}"]`);
    await expect(card.locator('.badge.host-online')).toBeVisible();
    await expect(card.locator('.badge.simulated')).toBeVisible();
  }
  // The connection test logs in over the API and over SSH, with the host key pinned.
  const lab = page.locator('li[data-host="truenas-lab"]');
  await lab.getByRole('button', { name: 'Test connection' }).click();
  const report = page.getByRole('region', { name: 'Connection test' });
  await expect(report.locator('li.step.ok', { hasText: 'API login' })).toBeVisible({ timeout: 20_000 });
  await expect(report.locator('li.step.ok', { hasText: 'SSH' })).toContainText('is pinned');
  expect(errors).toEqual([]);
});

test('on a phone the page fits the screen and the table scrolls inside it', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await hydrated(page);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByPlaceholder('Search serial, model, location')).toBeVisible();
  expect(errors).toEqual([]);
});

test('an unknown address gets a 404 page inside the app shell', async ({ page }) => {
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
