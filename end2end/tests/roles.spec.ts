import { test, expect, type Browser, type Page } from '@playwright/test';

const PASSWORD = 'correct horse battery staple';

async function signIn(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await page.locator('input[name="name"]').fill(name);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('.link-live')).toBeVisible();
  return page;
}

test('an operator burns in a drive, a viewer watches it live without a start button, sign-out ends the live channel', async ({ browser }) => {
  const operator = await signIn(browser, 'olga');
  const viewer = await signIn(browser, 'vic');
  await expect(viewer.locator('.user-name')).toContainText('vic · viewer');
  await expect(viewer.getByRole('button', { name: /Burn in/ })).toHaveCount(0);
  await expect(viewer.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expect(operator.getByRole('button', { name: /Burn in/ })).toBeVisible();

  // Its self-test stalls at 10 %: the job stays running for as long as the test looks.
  const serial = 'ZDH1X2Y4';
  await operator.locator(`tr[data-serial="${serial}"] td.select input`).check();
  await operator.getByRole('button', { name: 'Burn in 1…' }).click();
  const dialog = operator.getByRole('dialog', { name: 'Start a burn-in' });
  for (const stage of ['long_test', 'surface']) {
    const box = dialog.locator(`input[name="${stage}"]`);
    if (await box.isChecked()) await box.uncheck();
  }
  await dialog.getByRole('button', { name: 'Start' }).click();
  await expect(dialog).toBeHidden();
  // The viewer's open page shows it running, by itself.
  await expect(viewer.locator(`tr[data-serial="${serial}"] .badge.state-running`)).toBeVisible({ timeout: 20_000 });
  // The viewer's own API call to start is refused by the server, not only hidden.
  const refused = await viewer.request.post('/api/v1/burnin/start', {
    headers: { Origin: new URL(viewer.url()).origin },
    data: { drive_ids: [1], stages: ['short_test'] },
  });
  expect(refused.status()).toBe(403);

  // Signing out (from another tab of the same browser) ends the first tab's live channel.
  const other = await viewer.context().newPage();
  await other.goto('/');
  await other.getByRole('button', { name: 'Sign out' }).click();
  await expect(other).toHaveURL(/\/login/);
  await expect(viewer.locator('.link-live')).toHaveCount(0, { timeout: 15_000 });
  const after = await viewer.request.get('/api/v1/drives');
  expect(after.status()).toBe(401);
});
