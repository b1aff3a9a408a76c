import { test, expect, type Page } from '@playwright/test';
import { PASSWORD, signIn } from './helpers';

function screen(page: Page) {
  return page.getByTestId('terminal').locator('.xterm-rows');
}

async function openDrawer(page: Page, serial: string) {
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.locator(`tr[data-serial="${serial}"]`).getByRole('button', { name: serial }).click();
}

test('an admin opens a shell on the NAS from the drawer; it follows resizes, survives the drawer closing and ends with exit', async ({ page }) => {
  // xterm.js is not loaded until a terminal opens.
  const scripts: string[] = [];
  page.on('request', (request) => scripts.push(request.url()));
  // xterm.js's own <style> elements get the page's nonce: the policy refuses nothing.
  const refusals: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refusals.push(message.text());
  });
  await openDrawer(page, 'ZL2AB1C2');
  expect(scripts.some((url) => url.includes('/vendor/xterm/'))).toBe(false);
  await page.getByRole('tab', { name: 'Terminal' }).click();
  const pane = page.getByTestId('terminal');
  const state = pane.locator('.terminal-state');
  // The setup's sign-in is minutes old; if it were older, the pane asks for the password.
  const password = pane.locator('input[name="terminal-password"]');
  await expect(state.or(password).first()).toBeVisible();
  if (await password.isVisible()) {
    await password.fill(PASSWORD);
    await pane.getByRole('button', { name: 'Open terminal' }).click();
  }
  await expect(state).toHaveText('connected', { timeout: 15_000 });
  expect(scripts.some((url) => url.includes('/vendor/xterm/xterm.mjs'))).toBe(true);
  await expect(screen(page)).toContainText('root@truenas-lab');
  expect(refusals).toEqual([]);
  // The screen is laid out by xterm's styles: rows stacked, not run together.
  const rowHeight = await page.evaluate(() => document.querySelector('.xterm-rows > div')?.getBoundingClientRect().height ?? 0);
  expect(rowHeight).toBeGreaterThan(8);

  await pane.locator('.xterm').click();
  await page.keyboard.type("echo hel''lo\n");
  // The answer, not the line typed (which has the quotes).
  await expect(screen(page)).toContainText('hello');

  await page.keyboard.type('stty size\n');
  const size = async () => {
    const text = await screen(page).innerText();
    const sizes = [...text.matchAll(/^(\d+) (\d+)\s*$/gm)];
    return sizes.length ? `${sizes[sizes.length - 1][1]} ${sizes[sizes.length - 1][2]}` : '';
  };
  await expect.poll(size).toMatch(/^\d+ \d+$/);
  const before = await size();
  await page.setViewportSize({ width: 1600, height: 1000 });
  await expect.poll(async () => {
    await page.keyboard.type('stty size\n');
    return size();
  }, { timeout: 15_000 }).not.toBe(before);

  // Closing the drawer keeps the session: reopening shows the same screen, still connected.
  await page.getByRole('button', { name: 'Close the drive details' }).click();
  await page.locator('tr[data-serial="ZL2AB1C2"]').getByRole('button', { name: 'ZL2AB1C2' }).click();
  await page.getByRole('tab', { name: 'Terminal' }).click();
  await expect(page.getByTestId('terminal').locator('.terminal-state')).toHaveText('connected');
  await expect(screen(page)).toContainText('hello');

  // exit ends the shell: the pane offers to reconnect, and reconnecting opens a new one.
  await page.getByTestId('terminal').locator('.xterm').click();
  await page.keyboard.type('exit\n');
  const reconnect = page.getByTestId('terminal').getByRole('button', { name: 'Reconnect' });
  await expect(reconnect).toBeVisible({ timeout: 15_000 });
  await reconnect.click();
  await expect(page.getByTestId('terminal').locator('.terminal-state')).toHaveText('connected', { timeout: 15_000 });
});

test('an operator has no Terminal tab and the server gives them no ticket', async ({ browser }) => {
  const page = await signIn(browser, 'olga');
  await openDrawer(page, 'ZL2AB1C2');
  await expect(page.getByRole('tab', { name: 'SMART' })).toBeVisible();
  await expect(page.getByRole('tab', { name: 'Terminal' })).toHaveCount(0);
  const refused = await page.request.post('/api/v1/hosts/1/terminal', {
    headers: { Origin: new URL(page.url()).origin },
  });
  expect(refused.status()).toBe(403);
  await page.context().close();
});
