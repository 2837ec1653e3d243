import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

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
