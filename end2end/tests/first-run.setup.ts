import { test as setup, expect } from '@playwright/test';
import * as path from 'node:path';

export const PASSWORD = 'correct horse battery staple';

// A fresh database: every page leads to the first admin's form; nothing else answers.
setup('the first run creates the admin, who adds an operator and a viewer', async ({ page, request }) => {
  const api = await request.get('/api/v1/drives');
  expect(api.status()).toBe(401);
  await page.goto('/');
  await expect(page).toHaveURL(/\/setup$/);
  await page.locator('input[name="name"]').fill('admin');
  await page.locator('input[name="password"]').fill('short');
  await page.getByRole('button', { name: 'Create and sign in' }).click();
  await expect(page.locator('.notice.error')).toContainText('at least 12');
  await page.locator('input[name="name"]').fill('admin');
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create and sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('.user-name')).toContainText('admin · admin');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('link', { name: 'Users' }).click();
  for (const [name, role] of [['olga', 'operator'], ['vic', 'viewer']]) {
    await page.locator('input[name="new-user"]').fill(name);
    await page.locator('select[name="new-role"]').selectOption(role);
    await page.locator('input[name="new-password"]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Add user' }).click();
    await expect(page.locator('table.users')).toContainText(name);
  }
  await page.context().storageState({ path: path.join(process.env.E2E_STATE_DIR!, 'admin.json') });
});
