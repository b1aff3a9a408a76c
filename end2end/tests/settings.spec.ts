import { test, expect } from '@playwright/test';
import { signIn } from './helpers';

test('an admin changes a setting on the Settings page; it is in force and a viewer only reads it', async ({ page, browser }) => {
  await page.goto('/settings');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const jobs = page.locator('input[name="jobs_per_host"]');
  await expect(jobs).toHaveValue('32');
  // The alert rules are settings too, with their defaults.
  await expect(page.locator('input[name="alerts.host_offline_warn_mins"]')).toHaveValue('30');
  await expect(page.locator('input[name="alerts.pool_usage_crit_pct"]')).toHaveValue('90');
  await expect(page.getByTestId('system-card')).toContainText('Listening on');
  await jobs.fill('16');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toContainText('Saved');
  // In force on the server, and shown after a reload.
  const answer = await page.request.get('/api/v1/settings');
  expect((await answer.json()).settings.jobs_per_host).toBe(16);
  await page.reload();
  await expect(page.locator('input[name="jobs_per_host"]')).toHaveValue('16');

  // An out-of-range value is refused with the setting named, and nothing changes.
  await page.locator('input[name="jobs_per_host"]').fill('0');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('alert')).toContainText('jobs_per_host');
  expect((await (await page.request.get('/api/v1/settings')).json()).settings.jobs_per_host).toBe(16);

  // A viewer sees the values, cannot edit them, and has no Save button.
  const viewer = await signIn(browser, 'vic');
  await viewer.goto('/settings');
  await expect(viewer.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(viewer.locator('input[name="jobs_per_host"]')).toHaveValue('16');
  await expect(viewer.locator('input[name="jobs_per_host"]')).toBeDisabled();
  await expect(viewer.getByRole('button', { name: 'Save settings' })).toHaveCount(0);
  await viewer.context().close();
});
