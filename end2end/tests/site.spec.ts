import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

// The site scripts/build.sh makes (no cargo-leptos): exactly the files the server needs, the
// page references each of them by the name the build gave it, the compressed copies decode to
// the same bytes, and the page hydrates.
const root = path.resolve(__dirname, '../..');
const site = path.join(root, 'target/site');

function filesUnder(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

test('the site holds the bundle, the stylesheet and the assets, each with gzip and brotli copies', () => {
  // wasm-bindgen's copies of the app's own JS modules (`#[wasm_bindgen(module = …)]`), if any.
  const snippets = filesUnder(path.join(site, 'pkg')).filter((f) => f.startsWith('snippets/') && /\.m?js$/.test(f));
  const originals = [
    'pkg/burnin.js', 'pkg/burnin.wasm', 'pkg/burnin.css',
    ...snippets.map((f) => `pkg/${f}`),
    ...filesUnder(path.join(root, 'public')),
  ];
  const expected = originals.flatMap((file) => [file, `${file}.gz`, `${file}.br`]).sort();
  expect(filesUnder(site).sort()).toEqual(expected);
  for (const file of originals) {
    const bytes = fs.readFileSync(path.join(site, file));
    expect(bytes.length, file).toBeGreaterThan(0);
    expect(zlib.gunzipSync(fs.readFileSync(path.join(site, `${file}.gz`))).equals(bytes), `${file}.gz`).toBe(true);
    expect(zlib.brotliDecompressSync(fs.readFileSync(path.join(site, `${file}.br`))).equals(bytes), `${file}.br`).toBe(true);
  }
  // wasm-opt ran: a release bundle has no name section and starts with the wasm magic.
  const wasm = fs.readFileSync(path.join(site, 'pkg/burnin.wasm'));
  expect(wasm.subarray(0, 4).equals(Buffer.from([0, 0x61, 0x73, 0x6d]))).toBe(true);
});

test('the page names the files the build made, the server sends their compressed copies, and it hydrates', async ({ page, request }) => {
  const html = await (await request.get('/')).text();
  const referenced = [...new Set([...html.matchAll(/["'](\/pkg\/[^"'?#]+)["']/g)].map((m) => m[1]))].sort();
  expect(referenced).toEqual(['/pkg/burnin.css', '/pkg/burnin.js', '/pkg/burnin.wasm']);
  for (const url of referenced) {
    const onDisk = fs.readFileSync(path.join(site, url));
    for (const encoding of ['br', 'gzip']) {
      const answer = await request.get(url, { headers: { 'accept-encoding': encoding } });
      expect(answer.status(), url).toBe(200);
      expect(answer.headers()['content-encoding'], `${url} with ${encoding}`).toBe(encoding);
      // Playwright decodes the body: it must be the file the build wrote.
      expect((await answer.body()).equals(onDisk), `${url} decoded from ${encoding}`).toBe(true);
    }
  }
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  expect(errors).toEqual([]);
});
