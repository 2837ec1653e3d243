import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve('test/artifacts');

/**
 * Debian's headless Chromium, driven by playwright-core (no browser download). Playwright's
 * launch gives every run a fresh temporary profile. Without a browser the caller fails in CI
 * (CI=true) and skips elsewhere.
 */
export async function launchChromium(): Promise<Browser | { unavailable: string }> {
  if (!existsSync(CHROMIUM)) return { unavailable: `${CHROMIUM} is missing (apt-get install -y chromium)` };
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (err) {
    return { unavailable: `chromium did not start: ${(err as Error).message}` };
  }
}

/** A full-page screenshot under test/artifacts/ (git-ignored), for a reader to look at. */
export async function snap(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * One Chromium for the calling test file (launched before its tests, closed after them), and
 * fresh contexts (own cookies) from it: `context(opened, skip)` pushes the context onto
 * `opened` for the test to close. A missing browser fails in CI and skips the test elsewhere.
 */
export function sharedBrowser(viewport: { width: number; height: number } = { width: 720, height: 800 }) {
  let browser: Browser | null = null;
  let unavailable: string | null = null;
  beforeAll(async () => {
    const launched = await launchChromium();
    if ('unavailable' in launched) unavailable = launched.unavailable;
    else browser = launched;
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    async context(opened: BrowserContext[], skip: (note: string) => void): Promise<BrowserContext> {
      if (!browser) {
        if (process.env.CI === 'true') throw new Error(`the browser tests need Chromium: ${unavailable}`);
        skip(`no browser: ${unavailable}`);
      }
      const c = await browser!.newContext({ viewport });
      opened.push(c);
      return c;
    },
  };
}

/** Waits for a page to settle after a navigation; generous, since the test machine may be busy. */
export const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 30_000, interval: 100 });
