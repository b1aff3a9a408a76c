import { test, expect, type APIRequestContext } from '@playwright/test';
import { driveId, hydrated, watchErrors } from './helpers';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The record in the browser: history filters, pages and CSV; FAIL001's job page with its bad
// blocks; the audit page with a refused start; the certificate's print view at A4; checking an
// evidence bundle (and a tampered one) on the Verify page; the signing key on Settings.

const screens = path.resolve(__dirname, '../../reports/screens');

/** Surface-tests `serial` and waits for the job to end; answers its id. */
async function burnIn(request: APIRequestContext, serial: string): Promise<number> {
  const id = await driveId(request, serial);
  const start = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['surface'], confirm_serial: serial },
  });
  expect(start.status(), await start.text()).toBe(201);
  const job = (await start.json())[0].id as number;
  await expect
    .poll(async () => (await (await request.get(`/api/v1/burnin/${job}`)).json()).state, { timeout: 60_000 })
    .toMatch(/passed|failed|cancelled|interrupted/);
  return job;
}

let failJob = 0;
let passJob = 0;

test.beforeAll(async ({ request }) => {
  failJob = await burnIn(request, 'FAIL001');
  passJob = await burnIn(request, 'ZDH1X2Y3');
});

test('a past job is three clicks away: History, the job, its certificate', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page).toHaveURL(/\/history$/);
  // Each finished row offers its certificate and its bundle.
  const row = page.locator(`tr[data-job="${failJob}"]`);
  await expect(row.getByTestId('row-certificate')).toHaveAttribute('href', `/api/v1/burnin/${failJob}/certificate.pdf`);
  await expect(row.getByTestId('row-bundle')).toHaveAttribute('href', `/api/v1/burnin/${failJob}/evidence`);
  await page.locator(`tr[data-job="${failJob}"] [data-testid="job-link"]`).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${failJob}$`));
  await expect(page.getByTestId('job-page')).toHaveAttribute('data-outcome', 'fail');
  await page.getByTestId('certificate-link').click();
  await expect(page.getByTestId('cert-serial')).toHaveText('FAIL001');
  expect(errors).toEqual([]);
});

test('history filters by serial and verdict, pages with a cursor, and downloads the CSV', async ({ page, request }) => {
  await page.goto('/history');
  await hydrated(page);
  await page.locator('input[name="serial"]').fill('FAIL001');
  await page.locator('select[name="verdict"]').selectOption('fail');
  await page.getByTestId('apply-filters').click();
  await expect(page).toHaveURL(/serial=FAIL001/);
  await expect(page).toHaveURL(/verdict=fail/);
  const rows = page.locator('table.history tbody tr');
  await expect(rows.first()).toBeVisible();
  const serials = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-serial')));
  expect(serials.length).toBeGreaterThan(0);
  expect(new Set(serials)).toEqual(new Set(['FAIL001']));
  await expect(page.locator(`tr[data-job="${passJob}"]`)).toHaveCount(0);

  // One job a page: the next page holds another job, and no job shows twice.
  const all = (await (await request.get('/api/v1/burnin?limit=100')).json()) as { id: number }[];
  expect(all.length).toBeGreaterThanOrEqual(2);
  await page.goto('/history?limit=1');
  const first = await page.locator('table.history tbody tr').getAttribute('data-job');
  await page.getByTestId('next-page').click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page.locator('table.history tbody tr')).toHaveCount(1);
  const second = await page.locator('table.history tbody tr').getAttribute('data-job');
  expect(second).not.toBe(first);
  expect(Number(second)).toBe(all[1].id);

  // A column's heading sorts by it, and a second click reverses it; the link is the view.
  await page.goto('/history');
  await page.locator('th[data-sort="serial"] a').click();
  await expect(page).toHaveURL(/sort=serial(&|$)/);
  await expect(page.locator('th[data-sort="serial"]')).toHaveAttribute('aria-sort', 'ascending');
  const ascending = await page.locator('table.history tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-serial') ?? ''));
  expect(ascending.length).toBeGreaterThanOrEqual(2);
  expect(ascending).toEqual([...ascending].sort());
  await page.locator('th[data-sort="serial"] a').click();
  await expect(page).toHaveURL(/sort=-serial/);
  await expect(page.locator('th[data-sort="serial"]')).toHaveAttribute('aria-sort', 'descending');
  const descending = await page.locator('table.history tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-serial') ?? ''));
  expect(descending).toEqual([...ascending].reverse());

  // The address is the view: a link copied into a new page (sorted, filtered and on its second
  // page) shows the same rows.
  await page.goto('/history?sort=-serial&limit=1');
  await hydrated(page);
  await page.getByTestId('next-page').click();
  await expect(page).toHaveURL(/cursor=/);
  const jobsOf = (p: typeof page) =>
    p.locator('table.history tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job')));
  const shown = await jobsOf(page);
  expect(shown).toHaveLength(1);
  const copied = await page.context().newPage();
  await copied.goto(page.url());
  await hydrated(copied);
  expect(await jobsOf(copied)).toEqual(shown);
  await expect(copied.locator('th[data-sort="serial"]')).toHaveAttribute('aria-sort', 'descending');
  await copied.close();

  // The CSV holds the same filtered set.
  await page.goto('/history?serial=FAIL001');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv').click()]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r\n/);
  expect(lines[0]).toContain('serial');
  expect(lines.length - 1).toBe(await page.locator('table.history tbody tr').count());
  expect(lines.slice(1).every((l) => l.includes('FAIL001'))).toBe(true);
  // And the certificates of that set, in one PDF.
  const batch = await page.getByTestId('certificates-pdf').getAttribute('href');
  expect(batch).toContain('serial=FAIL001');
  const pdf = await request.get(batch!);
  expect(pdf.status()).toBe(200);
  expect(pdf.headers()['content-type']).toBe('application/pdf');
  expect((await pdf.body()).subarray(0, 5).toString()).toBe('%PDF-');
});

test("FAIL001's job page shows its bad blocks with byte offsets and its changed counters", async ({ page, request }) => {
  const errors = watchErrors(page);
  const certificate = await (await request.get(`/api/v1/burnin/${failJob}/certificate`)).json();
  await page.goto(`/jobs/${failJob}`);
  await hydrated(page);
  await expect(page.getByTestId('job-outcome')).toHaveText('FAIL');
  const defects = page.getByTestId('defects');
  await expect(defects).toHaveAttribute('data-count', '24');
  await expect(defects.locator('tbody tr')).toHaveCount(24);
  const firstBlock = certificate.defects[0];
  await expect(defects.locator(`tr[data-block="${firstBlock.block}"]`)).toContainText(String(firstBlock.byte_offset));
  // Every counter the certificate says changed is highlighted, and only those.
  const changed = certificate.counters.filter((c: { changed: boolean }) => c.changed).length;
  await expect(page.locator('[data-testid="counters"] tr.changed')).toHaveCount(changed);
  // The thresholds it was judged with, as sealed.
  for (const [label, value] of certificate.thresholds as [string, string][]) {
    await expect(page.getByTestId('thresholds')).toContainText(label);
    await expect(page.getByTestId('thresholds')).toContainText(value);
  }
  // A stage's output opens and its search keeps the matching lines.
  const output = page.locator('details.output[data-stream="stderr"]').first();
  await output.locator('summary').click();
  await expect(output.locator('pre')).not.toBeEmpty({ timeout: 15_000 });
  await output.getByTestId('output-search').fill('DONE');
  await expect(output.getByTestId('output-matches')).toContainText('matching line');
  // Every match is marked, whatever its case, and only matching lines stay.
  const marks = output.locator('pre mark');
  await expect(marks.first()).toHaveText(/^done$/i);
  const shownLines = (await output.locator('pre').innerText()).split('\n').filter((l) => l.length > 0);
  expect(shownLines.every((l) => /done/i.test(l))).toBe(true);
  expect(await marks.count()).toBeGreaterThanOrEqual(shownLines.length);
  // The temperature chart's numbers stand beside it: the table's hottest reading is the
  // certificate's.
  const table = page.getByTestId('temperature-table');
  await expect(table.locator('tbody tr').first()).toBeVisible();
  const maxes = await table
    .locator('td[data-max]')
    .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-max'))));
  expect(Math.max(...maxes)).toBeCloseTo(certificate.temperature_max_c, 5);
  // The audit trail of the job names its start and its end.
  await expect(page.locator('[data-testid="job-audit"] tr[data-action="burnin.start_destructive"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="job-audit"] tr[data-action="burnin.failed"]')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('the audit page lists a refused start', async ({ page, request }) => {
  const id = await driveId(request, 'WD-WX12D401AB');
  const refused = await request.post('/api/v1/burnin/start', {
    data: { drive_ids: [id], stages: ['surface'], confirm_serial: 'WD-WX12D401AB' },
  });
  expect(refused.status()).toBe(403);
  await page.goto('/audit?action=burnin.refused');
  await hydrated(page);
  const rows = page.locator('table.audit tbody tr');
  await expect(rows.first()).toHaveAttribute('data-action', 'burnin.refused');
  await expect(rows.first()).toContainText('pool tank');
  // Who refused it and from where: the address the request came from.
  await expect(rows.first()).toContainText('127.0.0.1');
  const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));
  expect(new Set(actions)).toEqual(new Set(['burnin.refused']));
});

test('the certificate prints at A4 with a QR code and the bundle hash', async ({ page, request }) => {
  const certificate = await (await request.get(`/api/v1/burnin/${failJob}/certificate`)).json();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`/jobs/${failJob}/certificate?paper=a4`);
  await hydrated(page);
  const sheet = page.getByTestId('certificate');
  await expect(sheet).toHaveAttribute('data-paper', 'a4');
  await expect(page.getByTestId('cert-outcome')).toHaveText('FAIL');
  await expect(page.getByTestId('cert-hash')).toHaveText(certificate.bundle_hash);
  await expect(sheet.locator('.cert-qr svg path')).toHaveCount(1);
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('.topbar')).toBeHidden();
  fs.mkdirSync(screens, { recursive: true });
  await page.screenshot({ path: path.join(screens, 'certificate-a4-print.png'), fullPage: true });
  const pdf = await page.pdf({ preferCSSPageSize: true });
  expect(pdf.length).toBeGreaterThan(10_000);
  await page.emulateMedia({ media: 'screen' });
  await page.goto(`/jobs/${failJob}/certificate?paper=letter`);
  await expect(page.getByTestId('certificate')).toHaveAttribute('data-paper', 'letter');
});

test('the Verify page accepts the bundle and names the part a changed byte breaks', async ({ browser, request }) => {
  const answer = await request.get(`/api/v1/burnin/${passJob}/evidence`);
  expect(answer.status()).toBe(200);
  const text = await answer.text();
  // A buyer with the bundle and no account: nobody signs in.
  const stranger = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await stranger.newPage();
  const errors = watchErrors(page);
  await page.goto('/verify');
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  await page.getByTestId('bundle-file').setInputFiles({ name: 'bundle.json', mimeType: 'application/json', buffer: Buffer.from(text) });
  await expect(page.getByTestId('verification')).toHaveAttribute('data-outcome', 'verified');

  const bundle = JSON.parse(text);
  const capture: string = bundle.parts['captures/smart_before.json'];
  const at = capture.indexOf('ZDH1X2Y3');
  bundle.parts['captures/smart_before.json'] = capture.slice(0, at) + 'X' + capture.slice(at + 1);
  await page.getByTestId('bundle-text').fill(JSON.stringify(bundle));
  await page.getByTestId('verify').click();
  await expect(page.getByTestId('verification')).toHaveAttribute('data-outcome', 'failed');
  await expect(page.getByTestId('problems')).toContainText('parts/captures/smart_before.json');
  expect(errors).toEqual([]);
  await stranger.close();
});

// An independent check of a bundle, written from the README's "Checking a bundle without this
// software" alone, with Node's own SHA-256 and Ed25519 (OpenSSL), not the dashboard's code.
type Bundle = {
  format: string;
  manifest: { public_key: string; parts: { name: string; sha256: string }[] } & Record<string, unknown>;
  signature: string;
  parts: Record<string, string | { base64: string }>;
};
function canonical(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const byCodePoint = (a: string, b: string) => {
      const x = Array.from(a).map((c) => c.codePointAt(0)!);
      const y = Array.from(b).map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object).sort(byCodePoint).map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`).join(',')}}`;
  }
  throw new Error(`a manifest holds no ${typeof value}`);
}
function checkIndependently(bundle: Bundle, publishedKey: string) {
  const problems: string[] = [];
  const signed = Buffer.from(canonical(bundle.manifest), 'utf8');
  const raw = Buffer.from(bundle.manifest.public_key, 'base64');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  if (!verify(null, signed, key, Buffer.from(bundle.signature, 'base64'))) problems.push('signature');
  if (bundle.manifest.public_key !== publishedKey) problems.push('key');
  for (const entry of bundle.manifest.parts) {
    const value = bundle.parts[entry.name];
    if (value === undefined) continue; // pruned
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.base64, 'base64');
    if (createHash('sha256').update(bytes).digest('hex') !== entry.sha256) problems.push(`parts/${entry.name}`);
  }
  for (const name of Object.keys(bundle.parts)) {
    if (!bundle.manifest.parts.some((p) => p.name === name)) problems.push(`parts/${name}`);
  }
  return { problems, hash: createHash('sha256').update(signed).digest('hex'), fingerprint: createHash('sha256').update(raw).digest('hex').slice(0, 16) };
}

test("a bundle checks out with Node's own Ed25519, following the README alone", async ({ request }) => {
  const published = await (await request.get('/api/v1/signing-key')).json();
  const certificate = await (await request.get(`/api/v1/burnin/${failJob}/certificate`)).json();
  const text = await (await request.get(`/api/v1/burnin/${failJob}/evidence`)).text();
  const bundle = JSON.parse(text) as Bundle;
  const clean = checkIndependently(bundle, published.public_key);
  expect(clean.problems).toEqual([]);
  expect(clean.hash).toBe(certificate.bundle_hash);
  expect(clean.fingerprint).toBe(published.fingerprint);
  // The JSON parts are texts to parse; the job part is this job.
  expect(JSON.parse(bundle.parts['job'] as string).id).toBe(failJob);

  // One changed byte of a capture is named.
  const tampered = JSON.parse(text) as Bundle;
  const capture = tampered.parts['captures/smart_before.json'] as string;
  const at = capture.indexOf('FAIL001');
  tampered.parts['captures/smart_before.json'] = capture.slice(0, at) + 'G' + capture.slice(at + 1);
  expect(checkIndependently(tampered, published.public_key).problems).toEqual(['parts/captures/smart_before.json']);

  // Re-signed by another key: the signature holds, the key is not the dashboard's; and the
  // dashboard's own check says the same.
  const other = generateKeyPairSync('ed25519');
  const forged = JSON.parse(text) as Bundle;
  const jwk = other.publicKey.export({ format: 'jwk' }) as { x: string };
  forged.manifest.public_key = Buffer.from(jwk.x, 'base64url').toString('base64');
  forged.signature = sign(null, Buffer.from(canonical(forged.manifest), 'utf8'), other.privateKey).toString('base64');
  expect(checkIndependently(forged, published.public_key).problems).toEqual(['key']);
  const answer = await request.post('/api/v1/evidence/verify', { data: forged });
  expect(answer.status()).toBe(200);
  const report = await answer.json();
  expect(report.valid).toBe(false);
  expect(report.key_matches_expected).toBe(false);
});

test('Settings shows the signing key the API publishes', async ({ page, request }) => {
  const key = await (await request.get('/api/v1/signing-key')).json();
  await page.goto('/settings');
  await hydrated(page);
  await expect(page.getByTestId('public-key')).toHaveText(key.public_key);
});

test('each record page comes rendered from the server and fits a phone', async ({ page, request }) => {
  const pages: [string, string, string][] = [
    ['history', '/history', 'data-testid="history"'],
    ['job', `/jobs/${failJob}`, 'data-testid="job-page"'],
    ['audit', '/audit', 'class="audit"'],
  ];
  fs.mkdirSync(screens, { recursive: true });
  for (const [name, address, marker] of pages) {
    // The first paint needs no wasm: the server's HTML already holds the page's content.
    const html = await (await request.get(address)).text();
    expect(html, `${address} as the server sends it`).toContain(marker);

    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(address);
    await hydrated(page);
    await page.screenshot({ path: path.join(screens, `${name}-1280.png`), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(address);
    await hydrated(page);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `${address} is wider than a phone by ${overflow} px`).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(screens, `${name}-390.png`), fullPage: true });
  }
});

test("an older job of a drive opens from the drive's drawer", async ({ page, request }) => {
  // A second burn-in of the drive that passed: the first becomes its older job.
  const newer = await burnIn(request, 'ZDH1X2Y3');
  expect(newer).not.toBe(passJob);
  await page.goto('/');
  await hydrated(page);
  await page.locator('tr[data-serial="ZDH1X2Y3"]').getByRole('button', { name: 'ZDH1X2Y3' }).click();
  await page.getByRole('tab', { name: 'Burn-in' }).click();
  // The latest job's panel links to its page; the list holds both jobs as links.
  await expect(page.locator(`section.job[data-job="${newer}"] a[href="/jobs/${newer}"]`)).toBeVisible();
  // …and offers its certificate and bundle.
  await expect(page.getByTestId('drawer-certificate')).toHaveAttribute('href', `/jobs/${newer}/certificate`);
  await expect(page.getByTestId('drawer-bundle')).toHaveAttribute('href', `/api/v1/burnin/${newer}/evidence`);
  const older = page.locator(`ul.history a[href="/jobs/${passJob}"]`);
  await expect(older).toBeVisible();
  await older.click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${passJob}$`));
  await expect(page.getByTestId('job-page')).toHaveAttribute('data-job', String(passJob));
  await expect(page.getByTestId('job-outcome')).toHaveText('PASS');
});
