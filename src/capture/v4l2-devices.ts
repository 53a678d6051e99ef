import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** One physical camera as V4L2 reports it; `paths` are its /dev/video* nodes (the first is usually the capture node). */
export interface CameraDevice {
  name: string;
  bus?: string;
  paths: string[];
}

export interface ListCamerasDeps {
  /** Runs `v4l2-ctl --list-devices`; resolves stdout, rejects when the tool is missing or fails. */
  runV4l2Ctl?: () => Promise<string>;
  devDir?: string;
  sysDir?: string;
}

/**
 * Parses `v4l2-ctl --list-devices`: a `Name (bus):` line, then tab-indented device nodes, blocks separated by blank
 * lines. Only /dev/video* nodes are kept (media and subdev nodes are not cameras to open).
 */
export function parseV4l2Devices(stdout: string): CameraDevice[] {
  const devices: CameraDevice[] = [];
  let current: CameraDevice | undefined;
  for (const line of stdout.split(/\r?\n/)) {
    if (!line.trim()) { current = undefined; continue; }
    if (/^\s/.test(line)) {
      const path = line.trim();
      if (current && /^\/dev\/video\d+$/.test(path)) current.paths.push(path);
      continue;
    }
    const header = /^(.*?)(?:\s*\(([^()]*)\))?:\s*$/.exec(line.trim());
    current = { name: header?.[1] ?? line.trim(), bus: header?.[2] || undefined, paths: [] };
    devices.push(current);
  }
  return devices.filter((d) => d.paths.length > 0);
}

function defaultRunV4l2Ctl(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('v4l2-ctl', ['--list-devices'], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** Scans /dev for videoN nodes and names them from sysfs, for machines without v4l2-ctl (v4l-utils). */
async function scanDev(devDir: string, sysDir: string): Promise<CameraDevice[]> {
  const names = await readdir(devDir).catch(() => [] as string[]);
  const nodes = names.filter((n) => /^video\d+$/.test(n)).sort(new Intl.Collator('en', { numeric: true }).compare);
  return Promise.all(nodes.map(async (node) => {
    const name = (await readFile(`${sysDir}/${node}/name`, 'utf8').catch(() => '')).trim();
    return { name: name || node, paths: [`${devDir}/${node}`] };
  }));
}

/**
 * Cameras this computer sees: from `v4l2-ctl --list-devices` when it works, else by scanning /dev/video*.
 * `method` says which, so the CLI can suggest installing v4l-utils.
 */
export async function listCameras(deps: ListCamerasDeps = {}): Promise<{ devices: CameraDevice[]; method: 'v4l2-ctl' | 'scan' }> {
  try {
    const stdout = await (deps.runV4l2Ctl ?? defaultRunV4l2Ctl)();
    return { devices: parseV4l2Devices(stdout), method: 'v4l2-ctl' };
  } catch {
    // v4l2-ctl is missing, or exits 1 when there is no /dev/video0 ("Cannot open device /dev/video0, exiting."): scan.
    return { devices: await scanDev(deps.devDir ?? '/dev', deps.sysDir ?? '/sys/class/video4linux'), method: 'scan' };
  }
}
