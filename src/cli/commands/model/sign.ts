import type { Argv, CommandModule } from 'yargs';

type Args = { file?: string; key?: string; out?: string; generateKey?: string };

/** `edgecam model sign`: ed25519 signatures for model updates, and the key pair to make them. */
export const command: CommandModule<object, Args> = {
  command: 'sign [file]',
  describe: 'Sign a model update file (ed25519), or make a key pair with --generate-key',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The update file (.tar.gz) to sign' })
    .option('key', { type: 'string', describe: 'Private key (PEM) from --generate-key' })
    .option('out', { type: 'string', describe: 'Signature file [default: <file>.sig]' })
    .option('generate-key', { type: 'string', describe: 'Write <name>.key (private, keep it off the device) and <name>.pub (for update.publicKey)' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const [{ readFile, writeFile }, verify, { EdgecamError }] = await Promise.all([import('node:fs/promises'), import('../../../models/verify.js'), import('../../../errors.js')]);
    if (argv.generateKey) {
      const keys = verify.generateSigningKeys();
      await writeFile(`${argv.generateKey}.key`, keys.privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
        throw new EdgecamError('SIGN_KEY_EXISTS', err.code === 'EEXIST' ? `${argv.generateKey}.key already exists; choose another name (an existing key is never overwritten)` : err.message);
      });
      await writeFile(`${argv.generateKey}.pub`, keys.publicKeyPem);
      process.stdout.write(`wrote ${argv.generateKey}.key (private) and ${argv.generateKey}.pub (copy to the device; set update.publicKey)\n`);
      if (!argv.file) return;
    }
    if (!argv.file || !argv.key) throw new EdgecamError('CLI_BAD_OPTION', 'give the file to sign and --key <private.pem>, e.g. `edgecam model sign update.tar.gz --key release.key`');
    const [bytes, pem] = await Promise.all([readFile(argv.file), readFile(argv.key)]);
    const out = argv.out ?? `${argv.file}.sig`;
    await writeFile(out, `${verify.signBytes(bytes, pem)}\n`);
    process.stdout.write(`wrote ${out}\n`);
  },
};
