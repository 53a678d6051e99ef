import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';

export type NotifySpawn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface SystemdNotifierDeps {
  logger: Logger;
  clock: Clock;
  spawn: NotifySpawn;
  env: NodeJS.ProcessEnv;
  pid: number;
}

/**
 * sd_notify for Type=notify units: READY=1 once serving, WATCHDOG=1 at half of WatchdogSec, STOPPING=1 on shutdown.
 * Node cannot send datagrams on unix sockets without a native module, so this runs `systemd-notify` (only when
 * $NOTIFY_SOCKET is set, i.e. under systemd). The message comes from a child process, so the unit needs
 * NotifyAccess=all; `--pid` names us as the main process. Failures are logged, never fatal: the unit's
 * TimeoutStartSec / WatchdogSec then tell systemd what happened.
 */
export class SystemdNotifier {
  private timer: NodeJS.Timeout | number | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: SystemdNotifierDeps) {
    this.log = deps.logger.child({ component: 'systemd' });
  }

  get enabled(): boolean {
    return Boolean(this.deps.env.NOTIFY_SOCKET);
  }

  /** Half of WatchdogSec, or undefined when the unit has no watchdog (or it is meant for another process). */
  get watchdogIntervalMs(): number | undefined {
    const usec = Number(this.deps.env.WATCHDOG_USEC);
    const pid = this.deps.env.WATCHDOG_PID;
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0 || (pid && Number(pid) !== this.deps.pid)) return undefined;
    return Math.max(500, Math.floor(usec / 2000));
  }

  /** Sends one or more `KEY=value` assignments. Resolves when systemd-notify exits; never rejects. */
  notify(...assignments: string[]): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = this.deps.spawn('systemd-notify', [`--pid=${this.deps.pid}`, ...assignments], { stdio: ['ignore', 'ignore', 'pipe'], env: this.deps.env });
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'cannot run systemd-notify');
        resolve(false);
        return;
      }
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.once('error', (err) => {
        this.log.warn({ err: errorMessage(err), assignments }, 'cannot run systemd-notify (is systemd installed?)');
        resolve(false);
      });
      child.once('close', (code) => {
        if (code !== 0) this.log.warn({ code, stderr: stderr.trim(), assignments }, 'systemd-notify failed');
        resolve(code === 0);
      });
    });
  }

  async ready(status?: string): Promise<void> {
    await this.notify('--ready', ...(status ? [`STATUS=${status}`] : []));
    const every = this.watchdogIntervalMs;
    if (every !== undefined && this.timer === undefined) {
      this.timer = this.deps.clock.setInterval(() => void this.notify('WATCHDOG=1'), every);
      this.log.debug({ everyMs: every }, 'systemd watchdog pings started');
    }
  }

  async stopping(): Promise<void> {
    this.deps.clock.clearInterval(this.timer);
    this.timer = undefined;
    await this.notify('STOPPING=1');
  }
}
