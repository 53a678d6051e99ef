import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendBytes, sendJson } from './api-http.js';
import type { ServerResponse } from 'node:http';

/**
 * The page's files (src/http/ui/: plain HTML, CSS and ES modules; no build step, no CDN) served from the package.
 * Read once on first use and kept in memory (a few KB): serving them never touches the disk again.
 */

/** src/http/ui/ in the package (this file runs from dist/src/http/). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../src/http/ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Only these names are served: a fixed list read from the folder, so no request path ever reaches the filesystem. */
const SAFE_NAME = /^[a-z0-9-]+\.(html|css|js|svg|png)$/;

export class StaticFiles {
  private files: Promise<Map<string, Buffer>> | undefined;

  constructor(private readonly dir: string = DEFAULT_UI_DIR) {}

  private load(): Promise<Map<string, Buffer>> {
    this.files ??= (async () => {
      const names = (await readdir(this.dir)).filter((n) => SAFE_NAME.test(n));
      return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(this.dir, n))] as [string, Buffer])));
    })();
    return this.files;
  }

  /** Answers with the file called `name`, or a 404 naming what exists. */
  async send(res: ServerResponse, name: string): Promise<void> {
    const files = await this.load();
    const data = files.get(name);
    if (!data) {
      sendJson(res, 404, { error: `no such page file ${name}` });
      return;
    }
    // The page and its modules are small and change only with an edgecam upgrade: revalidate, never stale.
    sendBytes(res, TYPES[extname(name)] ?? 'application/octet-stream', data, {
      'cache-control': 'no-cache',
      // No external fetches at all (the device may be offline; nothing leaves the LAN): self only.
      'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
  }
}
