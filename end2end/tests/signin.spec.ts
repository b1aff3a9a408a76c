import { expect, test } from '@playwright/test';
import { PASSWORD } from './helpers';

// What the browser itself does with a sign-in's `next`: a path with a tab in it would become
// `//evil.example` in the browser's reading of the redirect; the server must never send it.
for (const next of ['/\t/evil.example', '/\\evil.example', '//evil.example', 'https://evil.example/']) {
  test(`signing in with next=${JSON.stringify(next)} stays on this site`, async ({ browser, baseURL }) => {
    const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
    const page = await context.newPage();
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.locator('input[name="name"]').fill('admin');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(`${baseURL}/`);
    expect(new URL(page.url()).host).toBe(new URL(baseURL!).host);
    await context.close();
  });
}

test('a page of this site given as next is where the sign-in lands', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/alerts');
  await expect(page).toHaveURL(/\/login\?next=(%2F|\/)alerts$/);
  await page.locator('input[name="name"]').fill('admin');
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${baseURL}/alerts`);
  await context.close();
});
