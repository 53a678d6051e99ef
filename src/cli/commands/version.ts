import type { CommandModule } from 'yargs';
import { createRequire } from 'node:module';

/** `edgecam versions`: what this build runs on, for bug reports. */
export const command: CommandModule = {
  command: 'versions',
  describe: 'Print edgecam, Node and native library versions (for bug reports)',
  handler: async () => {
    const require = createRequire(import.meta.url);
    const pkg = require('../../../../package.json') as { version: string };
    const ort = require('onnxruntime-node/package.json') as { version: string };
    const sharp = (await import('sharp')).default;
    process.stdout.write(JSON.stringify({ edgecam: pkg.version, node: process.versions.node, onnxruntime: ort.version, sharp: sharp.versions.sharp, vips: sharp.versions.vips }, null, 2) + '\n');
  },
};
