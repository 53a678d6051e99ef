import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/**
 * A real browser for the page's tests: Debian's chromium driven by playwright-core (no bundled browser download).
 * Flags keep it from reaching the network on its own (component updates, sync, QUIC probes) and from needing a GPU
 * or a user namespace sandbox (containers, CI).
 */
export const CHROMIUM = process.env.EDGECAM_TEST_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does) or point EDGECAM_TEST_CHROMIUM at a Chromium binary`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
