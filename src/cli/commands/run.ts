import type { CommandModule } from 'yargs';

/** `edgecam run`: the daemon. With no file and no flags it runs the embedded demo (samples, bundled model, local broker). */
export const command: CommandModule = {
  command: 'run',
  describe: 'Run the daemon: camera → model → decisions → MQTT (embedded broker and sample images when nothing is configured)',
  builder: async (y) => {
    const { configFlagOptions } = await import('../../config/flags.js');
    return y.options(configFlagOptions)
      .example('$0 run', 'demo: replay samples/, bundled model, embedded MQTT broker on 127.0.0.1:1884')
      .example('$0 run --source ffmpeg:/dev/video0 --mqtt-url mqtt://192.168.1.10:1883', 'a USB camera, an existing broker')
      .example('$0 run --config /etc/edgecam/edgecam.yaml', 'as the systemd unit runs it');
  },
  handler: async (argv) => {
    const [{ flagsFromArgv }, { runDaemon }] = await Promise.all([import('../../config/flags.js'), import('../../main.js')]);
    const { file, flags } = flagsFromArgv(argv as Record<string, unknown>);
    const code = await runDaemon({ ...(file ? { file } : {}), flags, env: process.env });
    // Native libraries (ONNX Runtime threads, sharp) may hold the event loop; the daemon has stopped cleanly here.
    process.exit(code);
  },
};
