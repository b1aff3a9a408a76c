import { test, expect, type Page } from '@playwright/test';

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

test('the server renders the drive table before any script runs', async ({ request }) => {
  const response = await request.get('/');
  expect(response.status()).toBe(200);
  const csp = response.headers()['content-security-policy'];
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+'/);
  const html = await response.text();
  expect(html).toContain('ZL2E2E01');
  expect(html).toContain('WDC WD80EFAX-68KNBN0');
});

test('the dashboard hydrates and its search filters the table', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page.locator('header .brand-name')).toHaveText('Burn-in dashboard');
  await hydrated(page);
  const rows = page.locator('table.drives tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(page.locator('.result-count')).toHaveText('3 drives');

  await page.getByPlaceholder('Search serial, model, location').fill('wd80');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-serial', 'WD-E2E0002');
  await expect(page.locator('.result-count')).toHaveText('1 of 3 drives');

  await page.getByPlaceholder('Search serial, model, location').fill('');
  await expect(rows).toHaveCount(3);
  expect(errors).toEqual([]);
});

test('refresh calls the server through a same-origin server function', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const call = page.waitForResponse((response) => response.url().includes('/api/list_drives'));
  await page.getByRole('button', { name: 'Refresh' }).click();
  const response = await call;
  expect(response.status()).toBe(200);
  await expect(page.locator('table.drives tbody tr')).toHaveCount(3);
  expect(errors).toEqual([]);
});

test('temperatures and pool membership are marked', async ({ page }) => {
  await page.goto('/');
  const pooled = page.locator('tr[data-serial="WD-E2E0002"]');
  await expect(pooled.locator('.temp')).toHaveClass(/temp-warn/);
  await expect(pooled.locator('.badge.pool-pool')).toHaveText('pool tank');
  await expect(page.locator('tr[data-serial="S4E2E0003"] .badge.pool-boot')).toHaveText('boot');
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
