// The kernel's clock tick and page size (the monitor turns /proc's ticks and pages into ms and
// bytes with them) come from this process's auxiliary vector, the same values getconf prints,
// without starting a process: getKernelUnits runs on every pool's start, in the editor too.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readAuxiliaryVector } from '../../../src/core/process/linux-proc';

function getconf(name: string): number {
  return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
}

test("the auxiliary vector's clock tick and page size are getconf's", () => {
  const vector = readAuxiliaryVector();
  assert.equal(vector.get(17), getconf('CLK_TCK'), 'AT_CLKTCK');
  assert.equal(vector.get(6), getconf('PAGESIZE'), 'AT_PAGESZ');
});

test("getKernelUnits gives getconf's values without running getconf", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-getconf-'));
  try {
    // A getconf first on PATH that records each run (and answers nonsense).
    const runs = path.join(dir, 'runs');
    fs.writeFileSync(path.join(dir, 'getconf'), `#!/bin/sh\necho "$1" >> '${runs}'\necho 3\n`, { mode: 0o755 });
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'kernel-units-report.ts')], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    assert.deepEqual(JSON.parse(out), { clockTicksPerSecond: getconf('CLK_TCK'), pageSizeBytes: getconf('PAGESIZE') });
    assert.equal(fs.existsSync(runs) ? fs.readFileSync(runs, 'utf8') : '', '', 'getconf was not run');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
