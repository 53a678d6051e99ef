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
  source: string;
  out: string;
  timeout: number;
  fps?: number;
  width?: number;
  height?: number;
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
    .option('source', { type: 'string', default: process.env.EDGECAM_SOURCE ?? 'ffmpeg:/dev/video0',
      describe: 'folder:<dir> | ffmpeg:<input> | webcam:/dev/videoN | snapshot:<url> (default $EDGECAM_SOURCE or ffmpeg:/dev/video0)' })
    .option('out', { type: 'string', demandOption: true, describe: 'Where to write the frame' })
    .option('timeout', { type: 'number', default: 10000, describe: 'Give up after this many ms without a frame' })
    .option('fps', { type: 'number', describe: 'Rate to open the camera at' })
    .option('width', { type: 'number', describe: 'Frame width' })
    .option('height', { type: 'number', describe: 'Frame height' }) as unknown as Argv<GrabArgs>,
  handler: async (argv) => {
    const { writeFile } = await import('node:fs/promises');
    const { createCaptureSource } = await import('../../capture/create.js');
    const { grabFrame } = await import('../../capture/grab.js');
    const { createLogger } = await import('../../logger.js');
    const { systemClock } = await import('../../types.js');
    const { EdgecamError, errorMessage } = await import('../../errors.js');
    const logger = createLogger({ level: process.env.EDGECAM_LOG_LEVEL ?? 'error', pretty: false, destination: process.stderr });
    const source = createCaptureSource({ logger, clock: systemClock }, argv.source, { fps: argv.fps, width: argv.width, height: argv.height, loop: false });
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
