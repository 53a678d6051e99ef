import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

const NO_CAMERA_HINTS = [
  'No cameras found.',
  '  - Plug the USB camera in and check `dmesg | tail` shows it being detected.',
  '  - Raspberry Pi camera modules use libcamera: try `libcamera-hello --list-cameras`, or stream it with',
  '    libcamera-vid and use --source ffmpeg:<url>.',
  '  - If /dev/video* exists but you cannot open it, add your user to the "video" group: sudo usermod -aG video $USER.',
  '  - Network cameras do not appear here: use --source ffmpeg:rtsp://… or snapshot:http://….',
];

interface GrabArgs {
  config?: string;
  source?: string;
  out: string;
  timeout: number;
  fps?: number;
  width?: number;
  height?: number;
}

/**
 * The source to grab from: --source, else a configured camera.source (not the folder:samples demo default, which is
 * no camera), else the first V4L2 device. Relative folders are taken from the working directory.
 */
export function grabSpec(flag: string | undefined, configured: string | undefined, cwd = process.cwd()): string {
  const spec = flag ?? configured ?? 'ffmpeg:/dev/video0';
  return spec.startsWith('folder:') ? `folder:${resolve(cwd, spec.slice('folder:'.length))}` : spec;
}

const list: CommandModule<object, { json: boolean }> = {
  command: 'list',
  describe: 'List the V4L2 cameras (/dev/video*) this computer sees',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of text' }),
  handler: async (argv) => {
    const { listCameras } = await import('../../capture/v4l2-devices.js');
    const { devices, method } = await listCameras();
    if (argv.json) {
      process.stdout.write(JSON.stringify(devices, null, 2) + '\n');
      return;
    }
    if (devices.length === 0) {
      process.stdout.write(NO_CAMERA_HINTS.join('\n') + '\n');
      return;
    }
    for (const d of devices) {
      process.stdout.write(`${d.name}${d.bus ? ` (${d.bus})` : ''}\n${d.paths.map((p) => `  ${p}  → --source ffmpeg:${p} or webcam:${p}`).join('\n')}\n`);
    }
    if (method === 'scan') process.stdout.write('(found by scanning /dev; install v4l-utils for names and grouping: sudo apt install v4l-utils)\n');
  },
};

const grab: CommandModule<object, GrabArgs> = {
  command: 'grab',
  describe: 'Save one frame from a camera to a JPEG file',
  builder: (y: Argv) => y
    .option('config', { type: 'string', alias: 'c', describe: 'YAML config file whose camera section to use (default: edgecam.yaml if present; env EDGECAM_CONFIG)' })
    .option('source', { type: 'string',
      describe: 'folder:<dir> | ffmpeg:<input> | webcam:/dev/videoN | snapshot:<url> (default: camera.source from the config file or EDGECAM_CAMERA_SOURCE, else ffmpeg:/dev/video0)' })
    .option('out', { type: 'string', demandOption: true, describe: 'Where to write the frame' })
    .option('timeout', { type: 'number', default: 10000, describe: 'Give up after this many ms without a frame' })
    .option('fps', { type: 'number', describe: 'Rate to open the camera at (default: camera.fps)' })
    .option('width', { type: 'number', describe: 'Frame width (default: camera.width)' })
    .option('height', { type: 'number', describe: 'Frame height (default: camera.height)' })
    .example('$0 camera grab --out frame.jpg', 'the camera the daemon is configured with (edgecam.yaml / EDGECAM_CAMERA_SOURCE)')
    .example('$0 camera grab --source ffmpeg:rtsp://192.168.1.20/stream --out frame.jpg', 'try a camera before configuring it') as unknown as Argv<GrabArgs>,
  handler: async (argv) => {
    const { writeFile } = await import('node:fs/promises');
    const { createCaptureSource } = await import('../../capture/create.js');
    const { grabFrame } = await import('../../capture/grab.js');
    const { createLogger } = await import('../../logger.js');
    const { systemClock } = await import('../../types.js');
    const { EdgecamError, errorMessage } = await import('../../errors.js');
    const { loadConfig } = await import('../../config/load.js');
    // The same camera section `edgecam run` reads (file < EDGECAM_* env), so a grab shows what the daemon will see.
    const loaded = await loadConfig({ ...(argv.config ? { file: argv.config } : {}), env: process.env });
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    const cam = loaded.config.camera;
    const logger = createLogger({ level: process.env.EDGECAM_LOG_LEVEL ?? 'error', pretty: false, destination: process.stderr });
    const source = createCaptureSource({ logger, clock: systemClock }, grabSpec(argv.source, loaded.origins['camera.source'] ? cam.source : undefined),
      { fps: argv.fps ?? cam.fps, width: argv.width ?? cam.width, height: argv.height ?? cam.height, loop: false });
    const frame = await grabFrame(source, systemClock, argv.timeout);
    try {
      await writeFile(argv.out, frame.data);
    } catch (err) {
      throw new EdgecamError('GRAB_WRITE_FAILED', `Cannot write ${argv.out}: ${errorMessage(err)}. Check the folder exists and is writable.`, { cause: err });
    }
    process.stdout.write(`Saved ${frame.data.length} bytes from ${source.description} to ${argv.out}\n`);
  },
};

/** `edgecam camera list|grab`: find cameras and check one works before running the daemon. */
export const command: CommandModule = {
  command: 'camera <command>',
  describe: 'List cameras and grab a test frame',
  builder: (y) => y.command(list as unknown as CommandModule).command(grab as unknown as CommandModule).demandCommand(1),
  handler: () => {},
};
