import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LearningLoop } from '../../src/collect/daemon-hook.js';
import { configSchema } from '../../src/config/schema.js';
import type { FinetuneOptions } from '../../src/learn/finetune.js';
import type { FinetuneOutcome } from '../../src/learn/finetune-process.js';
import { silentLogger } from '../../src/logger.js';
import type { MqttBus } from '../../src/publish/mqtt.js';
import { FakeClock } from '../fakes/clock.js';

/** The options a `finetune` request hands to the fine-tune process, for a config and a request body. */
async function optionsFor(finetuneConfig: Record<string, unknown>, request: Record<string, unknown>): Promise<FinetuneOptions> {
  const { finetune } = configSchema.parse({ finetune: finetuneConfig });
  let seen: FinetuneOptions | undefined;
  const mqtt = { publish: async () => true } as unknown as MqttBus;
  const loop = new LearningLoop({
    logger: silentLogger(), clock: new FakeClock(), mqtt, reload: async () => undefined,
    finetune: async (_deps, options) => { seen = options; return { activated: false, seconds: 1 } as unknown as FinetuneOutcome; },
  }, {
    collect: { enabled: false, dir: '/tmp/edgecam-none', maxMB: 1, maxFiles: 1, lowConfidence: 0.5, sampleIntervalSeconds: 0, duplicateThreshold: 0 } as never,
    modelDir: '/srv/edgecam/models/active',
    finetune: { holdoutShare: finetune.holdout, margin: finetune.margin, epochs: finetune.epochs, lr: finetune.lr, weightDecay: finetune.weightDecay, mirror: finetune.mirror, nice: finetune.nice },
  });
  await loop.finetune(request);
  return seen!;
}

test('finetune.weightDecay and finetune.mirror from the config reach the fine-tune; a request overrides them', async () => {
  const defaults = await optionsFor({}, {});
  assert.deepEqual([defaults.weightDecay, defaults.mirror], [0.1, true]);
  const configured = await optionsFor({ weightDecay: 0.3, mirror: false }, {});
  assert.deepEqual([configured.weightDecay, configured.mirror, configured.models], [0.3, false, '/srv/edgecam/models']);
  const requested = await optionsFor({ weightDecay: 0.3, mirror: false }, { weightDecay: 0, mirror: true });
  assert.deepEqual([requested.weightDecay, requested.mirror], [0, true]);
});
