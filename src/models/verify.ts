import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { EdgecamError, errorMessage } from '../errors.js';
import { sha256Hex } from './sha256.js';

/**
 * Integrity and authenticity of model updates: a sha256 the sender publishes, and an ed25519 signature over the
 * update file's bytes (node:crypto, no extra package). Signatures travel as base64 text files.
 */

export class VerifyError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'VerifyError';
  }
}

export function normaliseSha256(value: string): string {
  const hex = value.trim().split(/\s+/)[0]!.toLowerCase(); // accepts `sha256sum` output lines too
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new VerifyError('UPDATE_BAD_SHA256', `"${value}" is not a sha256 (64 hex digits); copy it from the update's .sha256 file or \`sha256sum\``);
  return hex;
}

export function checkSha256(bytes: Uint8Array, expected: string, what: string): void {
  const want = normaliseSha256(expected);
  const got = sha256Hex(bytes);
  if (got !== want) {
    throw new VerifyError('UPDATE_SHA256_MISMATCH', `${what} hashes to ${got}, not the expected ${want}; the download is corrupt or incomplete (or the sha256 is for another file). Nothing was installed; download it again.`);
  }
}

export function loadPublicKey(pem: string | Buffer, source = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new VerifyError('UPDATE_BAD_PUBKEY', `${source} is not a PEM public key (${errorMessage(err)}); use the .pub file written by \`edgecam model sign --generate-key\``, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VerifyError('UPDATE_BAD_PUBKEY', `${source} is a ${key.asymmetricKeyType} key; edgecam signatures are ed25519`);
  return key;
}

export function loadPrivateKey(pem: string | Buffer, source = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new VerifyError('SIGN_BAD_KEY', `${source} is not a PEM private key (${errorMessage(err)}); make one with \`edgecam model sign --generate-key <name>\``, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VerifyError('SIGN_BAD_KEY', `${source} is a ${key.asymmetricKeyType} key; edgecam signs with ed25519`);
  return key;
}

/** Base64 ed25519 signature of `bytes`. */
export function signBytes(bytes: Uint8Array, privateKeyPem: string | Buffer): string {
  return sign(null, bytes, loadPrivateKey(privateKeyPem)).toString('base64');
}

/** Throws unless `signature` (base64 text, whitespace ignored) is a valid ed25519 signature of `bytes` by the key. */
export function checkSignature(bytes: Uint8Array, signature: string, publicKeyPem: string | Buffer, what: string): void {
  const key = loadPublicKey(publicKeyPem);
  const raw = Buffer.from(signature.replace(/\s+/g, ''), 'base64');
  let good = false;
  try {
    good = raw.length === 64 && verify(null, bytes, key, raw);
  } catch {
    good = false;
  }
  if (!good) {
    throw new VerifyError('UPDATE_BAD_SIGNATURE', `the signature of ${what} does not verify with the configured public key; the file was altered or signed with another key. Nothing was installed.`);
  }
}

export function generateSigningKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
