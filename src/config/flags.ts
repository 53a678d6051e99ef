import type { Options } from 'yargs';
import { LOG_LEVELS } from './schema.js';
import type { ConfigFlags } from './load.js';

/** yargs options shared by `edgecam run` and `edgecam config …`: these work without any config file. */
export const configFlagOptions = {
  config: { type: 'string', alias: 'c', describe: 'YAML config file (default: edgecam.yaml if present; env EDGECAM_CONFIG)' },
  source: { type: 'string', describe: 'Camera: folder:<dir> | ffmpeg:<input> | webcam:<device> | snapshot:<url>' },
  fps: { type: 'string', describe: 'Frames per second' },
  model: { type: 'string', describe: 'Model folder (manifest.json + model.onnx)' },
  'mqtt-url': { type: 'string', describe: 'Broker URL, e.g. mqtt://127.0.0.1:1883 (unset: embedded broker)' },
  'base-topic': { type: 'string', describe: 'MQTT base topic (default edgecam)' },
  'camera-id': { type: 'string', describe: 'Camera id in topics (default door)' },
  'http-port': { type: 'string', describe: 'Port for /healthz and /metrics' },
  'log-level': { type: 'string', choices: LOG_LEVELS, describe: 'Log level' },
} as const satisfies Record<string, Options>;

/** Pick the config-setting flags out of parsed yargs arguments. */
export function flagsFromArgv(argv: Record<string, unknown>): { file?: string; flags: ConfigFlags } {
  const flags: ConfigFlags = {};
  const pick = (name: string, key: keyof ConfigFlags, numeric = false): void => {
    const v = argv[name];
    if (typeof v !== 'string' && typeof v !== 'number') return;
    // Numbers are parsed here, not by yargs, so `--fps abc` reaches the schema and is reported, not silently NaN.
    flags[key] = numeric && v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  };
  pick('source', 'source');
  pick('fps', 'fps', true);
  pick('model', 'model');
  pick('mqtt-url', 'mqttUrl');
  pick('base-topic', 'baseTopic');
  pick('camera-id', 'cameraId');
  pick('http-port', 'httpPort', true);
  pick('log-level', 'logLevel');
  const file = typeof argv.config === 'string' ? argv.config : undefined;
  return { ...(file ? { file } : {}), flags };
}
