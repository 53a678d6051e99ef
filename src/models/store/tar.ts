import { gunzipSync, gzipSync } from 'node:zlib';
import { ModelError } from '../../errors.js';

/**
 * Just enough tar for model updates: a model folder packed with `tar czf update.tar.gz -C <folder> .` (or
 * packModelTar). Regular files only, at the top level or inside one folder; anything that could escape the
 * extraction folder (absolute paths, `..`, links, devices) is refused. gzip is detected by its magic bytes.
 */

export const MAX_UPDATE_BYTES = 1024 * 1024 * 1024;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function field(block: Uint8Array, offset: number, length: number): string {
  const raw = Buffer.from(block.subarray(offset, offset + length));
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(block: Uint8Array, offset: number, length: number): number {
  const text = field(block, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

/** Files of a tar(.gz) archive, by plain file name (the folder prefix, if any, removed). */
export function readModelTar(archive: Uint8Array, source: string): Map<string, Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = isGzip(archive) ? gunzipSync(archive, { maxOutputLength: MAX_UPDATE_BYTES }) : archive;
  } catch (err) {
    throw new ModelError('UPDATE_BAD_ARCHIVE', `${source} is not a readable .tar.gz (${(err as Error).message}); the download may be truncated — download it again`, { cause: err });
  }
  const bad = (why: string): ModelError => new ModelError('UPDATE_BAD_ARCHIVE', `${source} is not a model update archive: ${why}; pack a model folder with \`tar czf update.tar.gz -C <folder> .\``);
  const files = new Map<string, Uint8Array>();
  let prefix: string | undefined;
  let offset = 0;
  let sawEnd = false;
  let longName: string | undefined;
  while (offset + 512 <= bytes.length) {
    const header = bytes.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) { sawEnd = true; break; }
    const stored = octal(header, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== stored) throw bad(`header checksum mismatch at byte ${offset}`);
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const magic = field(header, 257, 6);
    const name = longName ?? (magic.startsWith('ustar') && field(header, 345, 155) ? `${field(header, 345, 155)}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const dataStart = offset + 512;
    if (dataStart + size > bytes.length) throw bad(`"${name}" is cut short (the archive is truncated)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L') { longName = Buffer.from(data).toString('utf8').replace(/\0+$/, ''); continue; }
    if (type === 'x' || type === 'g') continue; // pax metadata (mtime, owner…)
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') throw bad(`"${name}" is a ${type === '2' ? 'symlink' : type === '1' ? 'hard link' : 'special file'}`);
    const parts = name.replace(/^\.\//, '').split('/').filter((p) => p !== '' && p !== '.');
    if (name.startsWith('/') || parts.includes('..') || parts.length === 0 || parts.length > 2) throw bad(`unsafe or nested path "${name}"`);
    if (parts.length === 2) {
      if (prefix !== undefined && prefix !== parts[0]) throw bad('files in more than one folder');
      prefix = parts[0];
    }
    const file = parts[parts.length - 1]!;
    if (file.startsWith('.')) continue; // ._AppleDouble and friends
    files.set(file, new Uint8Array(data));
  }
  if (!sawEnd) throw bad('no end-of-archive marker (the archive is truncated)');
  return files;
}

/** A tar.gz of `files` (flat), e.g. to publish a model folder as an update. */
export function packModelTar(files: Record<string, Uint8Array | string>): Uint8Array {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
    header.write('        ', 148);
    header[156] = '0'.charCodeAt(0);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return new Uint8Array(gzipSync(Buffer.concat(blocks)));
}
