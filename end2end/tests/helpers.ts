import { expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A fresh browser context signed in as `name` through the sign-in form. */
export async function signIn(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/login');
  await page.locator('input[name="name"]').fill(name);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  return page;
}

/** Collects the page's console errors and uncaught exceptions, for a test to assert none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}

/** Waits until the page's wasm has hydrated it. */
export async function hydrated(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

/** The id of the demo drive `serial`, once the inventory lists the whole demo fleet. */
export async function driveId(request: APIRequestContext, serial: string): Promise<number> {
  await expect
    .poll(async () => (await (await request.get('/api/v1/drives')).json()).length, { timeout: 30_000 })
    .toBe(26);
  const drives = await (await request.get(`/api/v1/drives?search=${serial}`)).json();
  return drives.find((d: { serial: string }) => d.serial === serial).id;
}
