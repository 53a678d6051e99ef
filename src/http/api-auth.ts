import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may use the web page (issue 6 item 1). Labelling and model switching change what the device does, so:
 *
 * - without `http.auth`, only this machine: the peer must be a loopback address AND the Host header a loopback name.
 *   The Host check stops DNS rebinding (a web page on evil.example re-resolving its name to 127.0.0.1 would
 *   otherwise be "same origin" with the device's page in the owner's browser).
 * - with `http.auth`, anyone presenting it: HTTP Basic (any user name, the password is the token; browsers and phones
 *   prompt for it natively, so the page needs no login form) or `Authorization: Bearer <token>` for scripts.
 *
 * Changing requests (POST) must also be JSON with a same-origin (or no) Origin header: a cross-site HTML form can only
 * send form encodings, so it cannot label frames or roll a model back through a logged-in browser.
 */

export interface AccessOptions {
  auth?: string | undefined;
}

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; message: string; headers?: Record<string, string> };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** The host part of a Host header (`localhost:8765` → `localhost`, `[::1]:80` → `[::1]`). */
export function hostName(hostHeader: string | undefined): string {
  const h = (hostHeader ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.split(':')[0] ?? '';
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both so the comparison is constant-time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents (Basic password or Bearer), or undefined. */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? '')) return value;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

export function checkAccess(req: IncomingMessage, options: AccessOptions): AccessDecision {
  if (options.auth) {
    const token = presentedToken(req.headers.authorization);
    if (token !== undefined && sameSecret(token, options.auth)) return { ok: true };
    return {
      ok: false, status: 401, headers: { 'www-authenticate': 'Basic realm="edgecam", charset="UTF-8"' },
      message: 'This edgecam page needs the password set in http.auth (EDGECAM_HTTP_AUTH): any user name, that password.',
    };
  }
  if (!isLoopbackAddress(req.socket.remoteAddress) || !LOOPBACK_HOSTS.has(hostName(req.headers.host))) {
    return {
      ok: false, status: 403,
      message: 'The edgecam web page answers only on this machine (http://127.0.0.1:<port>/) until a password is set: put http.auth in edgecam.yaml or EDGECAM_HTTP_AUTH in the environment, then open the page from any address with that password.',
    };
  }
  return { ok: true };
}

/** Extra rule for requests that change something: JSON body and no foreign Origin. */
export function checkChangeRequest(req: IncomingMessage): AccessDecision {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) {
    return { ok: false, status: 403, message: 'Changes must be sent as application/json (the page does this; forms from other sites cannot).' };
  }
  const origin = req.headers.origin;
  if (origin && origin !== 'null') {
    let originHost = '';
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      originHost = '';
    }
    if (originHost !== String(req.headers.host ?? '').toLowerCase()) {
      return { ok: false, status: 403, message: `Refused a change requested by another site (${origin}).` };
    }
  } else if (origin === 'null') {
    return { ok: false, status: 403, message: 'Refused a change requested from an opaque origin.' };
  }
  return { ok: true };
}
