import { test, expect, type Page, type APIRequestContext } from '@playwright/test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

async function hydrated(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

async function driveId(request: APIRequestContext, serial: string): Promise<number> {
  const drives = await (await request.get(`/api/v1/drives?search=${serial}`)).json();
  return drives.find((d: { serial: string }) => d.serial === serial).id;
}

/** Resolves every open alert through the API, so the counter starts from nothing. */
async function resolveAll(request: APIRequestContext) {
  const open = await (await request.get('/api/v1/alerts')).json();
  for (const alert of open) {
    expect((await request.post(`/api/v1/alerts/${alert.id}/resolve`, { data: { note: 'e2e reset' } })).status()).toBe(200);
  }
}

test('a failed burn-in reaches the header counter and the desktop without a reload, and is acknowledged from the Alerts page', async ({ page, request }) => {
  // Records the desktop notifications the page raises, as a permitted browser would show them.
  await page.addInitScript(() => {
    const shown: string[] = [];
    (window as unknown as { __shown: string[] }).__shown = shown;
    class Recording {
      static get permission() { return 'granted'; }
      static requestPermission() { return Promise.resolve('granted'); }
      onclick: (() => void) | null = null;
      constructor(title: string, options?: { body?: string }) {
        shown.push(`${title}: ${options?.body ?? ''}`);
        (window as unknown as { __last: Recording }).__last = this;
      }
      close() {}
    }
    (window as unknown as { Notification: unknown }).Notification = Recording;
  });
  await resolveAll(request);
  await page.goto('/hosts');
  await hydrated(page);
  const count = page.getByTestId('alert-count');
  await expect(count).toHaveText('0', { timeout: 15_000 });

  const id = await driveId(request, 'FAIL001');
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['surface'], confirm_serial: 'FAIL001' },
  });
  expect(start.status()).toBe(201);
  // Nobody reloads: the counter and the host's cell move by themselves.
  await expect(count).toHaveText('1', { timeout: 60_000 });
  await expect(page.getByTestId('alert-badge')).toHaveClass(/critical/);
  await expect(page.locator('li[data-host="truenas-lab"] [data-testid="host-alerts"]')).toContainText('1 open');
  await expect
    .poll(async () => page.evaluate(() => (window as unknown as { __shown: string[] }).__shown))
    .toEqual([expect.stringContaining('FAIL001')]);

  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await hydrated(page);
  const item = page.locator('li.alert[data-kind="burnin_failed"]');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('FAIL001');
  await expect(item).toHaveAttribute('data-state', 'raised');
  await item.getByLabel('Note').fill('pulled for RMA');
  await item.getByRole('button', { name: 'Acknowledge' }).click();
  await expect(page.getByRole('status')).toContainText('acknowledged');
  await expect(item).toHaveAttribute('data-state', 'acknowledged');
  await expect(item).toContainText('pulled for RMA');
  await page.screenshot({ path: '../reports/screens/alerts-1280.png', fullPage: true });
  const stored = await (await request.get('/api/v1/alerts?kind=burnin_failed')).json();
  expect(stored[0].state).toBe('acknowledged');
  expect(stored[0].note).toBe('pulled for RMA');

  // The filters live in the address: resolved alerts of this kind, then back.
  await page.locator('select[name="state"]').selectOption('resolved');
  await expect(page).toHaveURL(/state=resolved/);
  await expect(page.locator('li.alert[data-state="acknowledged"]')).toHaveCount(0);

  // Clicking the desktop notification (still the page's since the first load) opens the
  // alert it told of.
  const told = stored[0].id;
  await page.evaluate(() => (window as unknown as { __last: { onclick: () => void } }).__last.onclick());
  await expect(page).toHaveURL(new RegExp(`/alerts\\?id=${told}$`));
  await hydrated(page);
  await expect(page.getByTestId('named-alert').locator(`li.alert[data-alert="${told}"]`)).toHaveAttribute('data-state', 'acknowledged');
  // Shown above, it is hidden in the list below; leaving the link unhides it in the same list
  // (nothing is rendered anew, so a note being typed or a click under way is not lost).
  const list = page.getByTestId('alerts');
  await expect(list.locator(`li.alert[data-alert="${told}"]`)).toBeHidden();
  await list.evaluate((ul) => { ul.setAttribute('data-probe', 'kept'); });
  await page.getByTestId('named-alert').getByRole('link', { name: 'Show the open alerts' }).click();
  await expect(page).toHaveURL(/\/alerts$/);
  await expect(page.getByTestId('named-alert')).toHaveCount(0);
  await expect(list.locator(`li.alert[data-alert="${told}"]`)).toBeVisible();
  await expect(list).toHaveAttribute('data-probe', 'kept');

  // A notification's link names its alert: it opens that alert, even once resolved, and the
  // page rendered by the server already shows it.
  const alertId = stored[0].id;
  expect((await request.post(`/api/v1/alerts/${alertId}/resolve`, { data: { note: 'returned' } })).status()).toBe(200);
  await page.goto(`/alerts?id=${alertId}`);
  const named = page.getByTestId('named-alert').locator(`li.alert[data-alert="${alertId}"]`);
  await expect(named).toHaveAttribute('data-state', 'resolved');
  await expect(named).toContainText('returned');
  await expect(named.getByRole('link', { name: /job #\d+/ })).toHaveAttribute('href', /^\/jobs\/\d+$/);
  await expect(page.locator(`li.alert[data-alert="${alertId}"]`)).toHaveCount(1);
});

test('a channel made on the Settings page sends a test through the real path and shows the result', async ({ page }) => {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  try {
    await page.goto('/settings');
    await hydrated(page);
    const panel = page.getByTestId('notifications');
    await panel.getByRole('button', { name: 'Add channel' }).click();
    const form = page.getByTestId('channel-form');
    await form.locator('input[name="name"]').fill('e2e hook');
    await form.locator('input[name="url"]').fill(`http://127.0.0.1:${port}/hook`);
    await form.getByRole('button', { name: 'Generate' }).click();
    await expect(form.locator('input[name="secret"]')).toHaveValue(/^whsec_/);
    await form.getByRole('button', { name: 'Save channel' }).click();
    const card = panel.locator('li.channel[data-channel="e2e hook"]');
    await expect(card).toBeVisible();
    await card.getByTestId('send-test').click();
    const result = card.getByTestId('test-result');
    await expect(result).toHaveAttribute('data-ok', 'true');
    await expect(result).toContainText('Delivered (200)');
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0].body).type).toBe('test');
    expect(received[0].headers['webhook-signature']).toMatch(/^v1,/);

    // A channel nobody listens on: the result says so, in place.
    await panel.getByRole('button', { name: 'Add channel' }).click();
    await form.locator('input[name="name"]').fill('e2e nowhere');
    await form.locator('select[name="kind"]').selectOption('ntfy');
    await form.locator('input[name="url"]').fill('http://127.0.0.1:9/drives');
    await form.getByRole('button', { name: 'Save channel' }).click();
    const bad = panel.locator('li.channel[data-channel="e2e nowhere"]');
    await bad.getByTestId('send-test').click();
    await expect(bad.getByTestId('test-result')).toHaveAttribute('data-ok', 'false');
    await expect(bad.getByTestId('test-result')).toContainText('127.0.0.1:9');
    await bad.getByRole('button', { name: 'Delivery log' }).click();
    await expect(bad.locator('table.deliveries tbody tr')).toHaveCount(1);
    await panel.screenshot({ path: '../reports/screens/notifications-1280.png' });
  } finally {
    receiver.close();
  }
});
