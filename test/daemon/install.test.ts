import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/load.js';

const exec = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

test('install.sh --dry-run checks Node, then lists user, folders, config and unit steps without changing anything', async () => {
  const { stdout } = await exec('bash', [join(ROOT, 'scripts/install.sh'), '--dry-run', '--prefix', '/opt/edgecam-test', '--no-start']);
  assert.match(stdout, /^Node (\d+)\.\d+\.\d+ at /m);
  assert.ok(Number(/^Node (\d+)/m.exec(stdout)![1]) >= 20);
  assert.match(stdout, /\+ useradd --system .*--shell \/usr\/sbin\/nologin .*edgecam/);
  assert.match(stdout, /\+ cp -a \S+\/dist \/opt\/edgecam-test\//);
  assert.match(stdout, /\+ install -d -o edgecam -g edgecam -m 0750 \/var\/lib\/edgecam /);
  assert.match(stdout, /\+ install -d -o root -g edgecam -m 0750 \/etc\/edgecam/);
  assert.match(stdout, /ExecStart=\S+node \/opt\/edgecam-test\/dist\/src\/cli\/main\.js run --config \/etc\/edgecam\/edgecam\.yaml/);
  assert.match(stdout, /\+ systemctl daemon-reload/);
  assert.match(stdout, /\+ systemctl enable edgecam\.service$/m);
});

test('install.sh refuses unknown options with a clear message', async () => {
  await assert.rejects(exec('bash', [join(ROOT, 'scripts/install.sh'), '--dry-run', '--frobnicate']), (err: { code: number; stderr: string }) => err.code === 1 && /unknown option --frobnicate/.test(err.stderr));
});

test('the config install.sh writes is valid for the schema', async () => {
  const script = await readFile(join(ROOT, 'scripts/install.sh'), 'utf8');
  const yaml = /<<'YAML'\n([\s\S]*?)\nYAML\n/.exec(script)?.[1];
  assert.ok(yaml, 'template found');
  const { config } = await loadConfig({ file: 'edgecam.yaml', env: {}, readText: async () => yaml });
  assert.equal(config.camera.source, 'ffmpeg:/dev/video0');
  assert.equal(config.mqtt.url, 'mqtt://127.0.0.1:1883');
});

test('systemd unit: Type=notify, watchdog, restart, dedicated user, hardening; exposure ≤ 2.0 by systemd-analyze', async () => {
  const unitPath = join(ROOT, 'systemd/edgecam.service');
  const unit = await readFile(unitPath, 'utf8');
  for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=on-failure', 'User=edgecam', 'SupplementaryGroups=video', 'ProtectSystem=strict',
    'ReadWritePaths=/var/lib/edgecam', 'DeviceAllow=char-video4linux rw', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes', 'CapabilityBoundingSet=',
    'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  }
  assert.match(unit, /^WatchdogSec=\d+s$/m);
  assert.match(unit, /^RestrictAddressFamilies=/m);
  assert.match(unit, /^SystemCallFilter=@system-service$/m);
  const { stdout } = await exec('systemd-analyze', ['security', '--offline=true', unitPath]).catch((err: { stdout: string }) => err);
  const exposure = Number(/Overall exposure level for edgecam\.service: ([\d.]+)/.exec(stdout)?.[1]);
  assert.ok(exposure <= 2.0, `exposure ${exposure}`);
});
