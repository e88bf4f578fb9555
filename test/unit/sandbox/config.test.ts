// The sandbox settings in swarm.config.json and their precedence: a mode string or an object,
// merged field by field under VS Code settings and CLI flags; bad values name the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSwarmConfigText, resolveEffectiveConfig, sandboxSettingsFrom } from '../../../src/core/config';

test('"sandbox": "off" is short for { "mode": "off" }; layers merge field by field', () => {
  const file = parseSwarmConfigText('swarm.config.json', '{ "sandbox": { "mode": "required", "network": false, "allowWrite": ["~/notes", "/srv/cache"] } }', { trusted: true }).config;
  assert.ok(file);
  assert.deepEqual(sandboxSettingsFrom(file), { mode: 'required', network: false, allowWrite: ['~/notes', '/srv/cache'] });
  const shorthand = parseSwarmConfigText('swarm.config.json', '{ "sandbox": "off" }', { trusted: true }).config;
  assert.deepEqual(sandboxSettingsFrom(shorthand ?? {}), { mode: 'off' });
  const merged = resolveEffectiveConfig({ file, settings: { sandbox: { network: true } }, flags: { sandbox: 'auto' } });
  assert.deepEqual(merged.errors, []);
  assert.deepEqual(sandboxSettingsFrom(merged.config), { mode: 'auto', network: true, allowWrite: ['~/notes', '/srv/cache'] });
  assert.equal(merged.origins['sandbox.mode'], 'flags');
  assert.equal(merged.origins['sandbox.network'], 'settings');
  assert.equal(merged.origins['sandbox.allowWrite'], 'file');
});

test('bad sandbox settings are refused with the field and what is expected', () => {
  const relative = parseSwarmConfigText('swarm.config.json', '{ "sandbox": { "allowWrite": ["relative/path"] } }', { trusted: true });
  assert.equal(relative.config, undefined);
  assert.match(JSON.stringify(relative.errors), /sandbox\.allowWrite\[0\].*absolute path or start with ~\//);
  const mode = parseSwarmConfigText('swarm.config.json', '{ "sandbox": "sometimes" }', { trusted: true });
  assert.equal(mode.config, undefined);
  assert.deepEqual(mode.errors.map((problem) => [problem.path, problem.message]), [['sandbox', 'expected a mode ("auto", "required" or "off") or an object such as {"mode": "auto", "network": false}']]);
  const field = parseSwarmConfigText('swarm.config.json', '{ "sandbox": { "network": "yes", "walls": 2 } }', { trusted: true });
  assert.deepEqual(field.errors.map((problem) => [problem.path, problem.message]).sort(), [
    ['sandbox.network', 'expected boolean, found string'],
    ['sandbox.walls', 'is not a known setting; expected one of: mode, network, cacheDirs, allowWrite'],
  ]);
});
