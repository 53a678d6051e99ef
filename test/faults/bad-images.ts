import sharp from 'sharp';
import { mulberry32 } from '../../src/random.js';

/**
 * Broken images of the kinds cameras, SD cards and users produce, generated from a seed (no fixtures on disk):
 * corrupt (bytes overwritten inside a real JPEG), truncated (a real JPEG or PNG cut short), zero-byte, huge-dimension
 * (a tiny file whose header claims 60000×60000 pixels: must be refused before decoding), and non-image (text,
 * HTML, PDF header, random bytes).
 */

export type BadKind = 'corrupt' | 'truncated' | 'zero-byte' | 'huge-dimension' | 'non-image';
export const BAD_KINDS: readonly BadKind[] = ['corrupt', 'truncated', 'zero-byte', 'huge-dimension', 'non-image'];

/** A deterministic generator (mulberry32) so a failing case can be reproduced from its index. */
export const rng = mulberry32;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG whose IHDR says width×height (with a correct CRC, so only the size is wrong). */
function pngClaiming(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  // Signature (8) + length (4) + "IHDR" (4) → width at 16, height at 20; CRC over type+data at 29.
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

/** A JPEG whose SOF0 frame header says width×height. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker in the JPEG');
}

export interface BadImageFactory {
  make(kind: BadKind, index: number): Buffer;
  /** A good image, to check that classification still works between broken ones. */
  readonly good: Buffer;
}

export async function badImageFactory(): Promise<BadImageFactory> {
  const noise = Buffer.alloc(96 * 72 * 3);
  const r = rng(7);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(r() * 256);
  const jpeg = await sharp(noise, { raw: { width: 96, height: 72, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
  const png = await sharp(noise, { raw: { width: 96, height: 72, channels: 3 } }).png().toBuffer();
  const nonImages = ['this is a log line, not a frame\n', '<html><body>502 Bad Gateway</body></html>', '%PDF-1.4\n%âãÏÓ\n1 0 obj', '{"image": null}', '\u0000'.repeat(64)];
  return {
    good: jpeg,
    make(kind, index) {
      const rand = rng(1000 + index);
      switch (kind) {
        case 'corrupt': {
          // Overwrite a run of bytes after the headers: the decoder meets nonsense entropy-coded data or markers.
          const out = Buffer.from(jpeg);
          const start = 200 + Math.floor(rand() * (out.length - 400));
          for (let i = 0; i < 64; i++) out[start + i] = Math.floor(rand() * 256);
          return out;
        }
        case 'truncated': {
          const src = index % 2 ? png : jpeg;
          return src.subarray(0, 1 + Math.floor(rand() * (src.length - 2)));
        }
        case 'zero-byte':
          return Buffer.alloc(0);
        case 'huge-dimension':
          return index % 2 ? pngClaiming(png, 60000, 60000) : jpegClaiming(jpeg, 60000, 60000);
        case 'non-image':
          return index % 3 === 0 ? Buffer.from(nonImages[index % nonImages.length]!) : Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256)));
      }
    },
  };
}
