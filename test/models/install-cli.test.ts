import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goodUpdate } from './install-fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../../scripts/update-model.sh', import.meta.url));

test('CLI: model sign --generate-key, update-model.sh with signature, list/verify/rollback/activate/prune, clear failures', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-icli-'));
  const models = join(dir, 'models');
  const env = { ...process.env, EDGECAM_HTTP_ENABLED: 'false', EDGECAM_LOG_LEVEL: 'silent' };
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, env });
  const script = (...args: string[]) => spawnSync('sh', [SCRIPT, ...args], { encoding: 'utf8', cwd: dir, env });
  try {
    let r = cli('model', 'sign', '--generate-key', join(dir, 'release'));
    assert.equal(r.status, 0, r.stderr);
    r = cli('model', 'sign', '--generate-key', join(dir, 'release'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists/);
    await writeFile(join(dir, 'v1.tar.gz'), goodUpdate('v1', 1));
    await writeFile(join(dir, 'v2.tar.gz'), goodUpdate('v2', 2));
    for (const v of ['v1', 'v2']) assert.equal(cli('model', 'sign', join(dir, `${v}.tar.gz`), '--key', join(dir, 'release.key')).status, 0);
    r = script(join(dir, 'v1.tar.gz'), '--signature', join(dir, 'v1.tar.gz.sig'), '--pubkey', join(dir, 'release.pub'), '--models', models);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /installed v1 and activated/);
    r = script(join(dir, 'v2.tar.gz'), '--signature', join(dir, 'v1.tar.gz.sig'), '--pubkey', join(dir, 'release.pub'), '--models', models);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /does not verify.*\[UPDATE_BAD_SIGNATURE\]/s);
    r = script(join(dir, 'v2.tar.gz'), '--signature', join(dir, 'v2.tar.gz.sig'), '--pubkey', join(dir, 'release.pub'), '--models', models);
    assert.equal(r.status, 0, r.stderr);
    r = cli('model', 'list', '--models', models);
    assert.match(r.stdout, /\* active\s+v2/);
    assert.match(r.stdout, /previous v1/);
    assert.equal(cli('model', 'verify', '--models', models).status, 0);
    r = cli('model', 'rollback', '--models', models);
    assert.match(r.stdout, /active: v1 \(was v2\)/);
    r = cli('model', 'activate', 'nope', '--models', models);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /model list/);
    r = cli('model', 'prune', '--keep', '0', '--models', models);
    assert.match(r.stdout, /removed 0 version/, 'active and previous are never pruned');
    assert.equal(script('--help').status, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
