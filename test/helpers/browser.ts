import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * A real browser for tests: Debian's Chromium (installed by scripts/ensure-system-tools.sh)
 * driven by playwright-core, headless, with a fresh temporary profile per launch (launch()'s
 * default), and nothing that phones home. Each test opens its own context (cookies, storage)
 * with `browser.newContext()`.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/ensure-system-tools.sh (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** The repository root: the nearest folder up with a package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** `test-artifacts/<parts...>` (gitignored), created: screenshots and traces worth looking at. */
export function artifactsDir(...parts: string[]): string {
  const dir = join(repoRoot(), 'test-artifacts', ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Collects what the page logs and throws, for failure messages. */
export function watchPage(page: Page): { errors: string[]; console: string[] } {
  const seen = { errors: [] as string[], console: [] as string[] };
  page.on('pageerror', (error) => seen.errors.push(error.message));
  page.on('console', (message) => seen.console.push(`${message.type()}: ${message.text()}`));
  return seen;
}

/** Screenshots of the whole page at each width, named `<name>-<width>.png`; returns the paths. */
export async function screenshotAtWidths(page: Page, dir: string, name: string, widths: number[]): Promise<string[]> {
  const paths: string[] = [];
  for (const width of widths) {
    await page.setViewportSize({ width, height: 800 });
    const path = join(dir, `${name}-${width}.png`);
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  return paths;
}
