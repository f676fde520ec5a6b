import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from './browser.js';

/** The ops console's tests: the shared Chromium launcher (browser.ts) and both screen widths. */
export function launchChromium(): Promise<Browser> {
  return launchBrowser();
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/**
 * Full-page screenshots of the page as it is, at 1280 px and at 390 px wide, under `dir`
 * (`<name>-1280.png`, `<name>-390.png`); the page is left at 1280 px.
 */
export async function screenshotBoth(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(dir, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(dir, `${name}-390.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}
