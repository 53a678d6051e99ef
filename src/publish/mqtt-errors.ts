import { readFile } from 'node:fs/promises';
import { EdgecamError, errorMessage } from '../errors.js';

/** A broker connection problem, with a code a script can test and a message a person can act on. */
export class MqttError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MqttError';
  }
}

/** CONNACK return codes (MQTT 3.1.1) and reason codes (MQTT 5) meaning "who you are was refused". */
const AUTH_CODES = new Set([4, 5, 134, 135]);
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_OSSL_PEM_NO_START_LINE', 'ERR_OSSL_X509_KEY_VALUES_MISMATCH',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * Turns what mqtt.js / node:tls / node:net threw into an MqttError that says what to check.
 * `where` is the broker URL with any password already masked. Never includes the password.
 */
export function classifyMqttError(err: unknown, where: string): MqttError {
  if (err instanceof MqttError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessage(err);
  if (typeof code === 'number' && AUTH_CODES.has(code)) {
    return new MqttError('MQTT_AUTH', `The MQTT broker at ${where} refused the login (${message}). Check mqtt.username and mqtt.password, and the broker's ACL for this user.`, { cause: err });
  }
  if (typeof code === 'number' && (code === 2 || code === 133)) {
    return new MqttError('MQTT_CLIENT_ID', `The MQTT broker at ${where} rejected the client id (${message}). Set mqtt.clientId to a shorter, unique value.`, { cause: err });
  }
  if (typeof code === 'number') {
    return new MqttError('MQTT_REFUSED', `The MQTT broker at ${where} refused the connection (${message}). Check the broker's log.`, { cause: err });
  }
  if (typeof code === 'string' && (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('ERR_OSSL'))) {
    return new MqttError('MQTT_TLS', `TLS with the MQTT broker at ${where} failed (${code}: ${message}). Check mqtt.tls.ca (the CA that signed the broker's certificate), the host name in the URL against the certificate, and the clock.`, { cause: err });
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new MqttError('MQTT_UNREACHABLE', `Cannot reach the MQTT broker at ${where} (${code}). Check that the broker runs and the URL (host, port, mqtt:// or mqtts://) is right.`, { cause: err });
  }
  if (/connack timeout/i.test(message)) {
    return new MqttError('MQTT_TIMEOUT', `The MQTT broker at ${where} did not answer the connection request in time. Check the URL's port and protocol (mqtt:// vs mqtts://).`, { cause: err });
  }
  return new MqttError('MQTT_ERROR', `MQTT connection to ${where} failed: ${message}`, { cause: err });
}

/** The URL as it may appear in a log: any password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  }
}

export interface TlsSettings {
  /** PEM contents or a file path. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Default true; false accepts any certificate (only for testing). */
  rejectUnauthorized?: boolean;
}

/** Reads TLS material given either inline (PEM) or as file paths, with a clear error for a missing file. */
export async function loadTlsMaterial(
  tls: TlsSettings,
  read: (file: string) => Promise<Buffer> = (file) => readFile(file),
): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean }> {
  const load = async (name: 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
    const value = tls[name];
    if (value === undefined || value === '') return undefined;
    if (value.includes('-----BEGIN')) return Buffer.from(value);
    try {
      return await read(value);
    } catch (err) {
      throw new MqttError('MQTT_TLS_FILE', `Cannot read mqtt.tls.${name} file ${value}: ${errorMessage(err)}. Give a readable PEM file path or the PEM text itself.`, { cause: err });
    }
  };
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } = { rejectUnauthorized: tls.rejectUnauthorized ?? true };
  const [ca, cert, key] = await Promise.all([load('ca'), load('cert'), load('key')]);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if ((cert === undefined) !== (key === undefined)) {
    throw new MqttError('MQTT_TLS_FILE', 'mqtt.tls.cert and mqtt.tls.key go together (client certificate and its key); set both or neither.');
  }
  return out;
}
