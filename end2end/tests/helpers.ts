import { expect, type Browser, type Page } from '@playwright/test';

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
