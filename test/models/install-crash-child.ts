/**
 * Child process for install.test.ts: runs installModel and, at the checkpoint named in argv, says so and waits for
 * SIGKILL. Without arguments (as a test runner may start it) it does nothing.
 *   node install-crash-child.js <models> <update file> <kill-at step>
 */
import { installModel } from '../../src/models/install.js';
import { silentLogger } from '../../src/logger.js';

const [models, source, killAt] = process.argv.slice(2);
if (models && source && killAt) {
  void installModel({
    logger: silentLogger(),
    checkpoint: async (step) => {
      if (step !== killAt) return;
      process.stdout.write(`AT ${step}\n`);
      await new Promise(() => undefined);
    },
  }, { source, models, stallTimeoutMs: 5000, watchSeconds: 0, activate: true }).then(() => process.stdout.write('DONE\n'), (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
