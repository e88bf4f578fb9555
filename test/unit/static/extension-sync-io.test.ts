// The extension host runs every extension's code on one thread: a synchronous file or process call
// there stalls the editor for as long as the disk or the child takes. The extension layer uses the
// promise APIs; what the core does synchronously is the core's to answer for (and listed in
// docs/architecture.md). An exception needs an entry here with why it cannot wait.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..', '..');

/** `file:line` prefixes allowed a synchronous call, and why. None today. */
const ALLOWED: Record<string, string> = {};

/** A call of a synchronous fs or child_process function (fs.existsSync(, existsSync(, spawnSync(...). */
const SYNC_CALL = /\b(?:fs\.|fsp?\.)?(?:access|appendFile|chmod|chown|copyFile|cp|exists|fstat|lstat|mkdir|mkdtemp|open|opendir|read|readdir|readFile|readlink|realpath|rename|rm|rmdir|stat|symlink|truncate|unlink|utimes|write|writeFile|spawn|exec|execFile)Sync\s*\(/;

describe('extension: no synchronous I/O on the extension host', () => {
  it('src/extension calls no fs.*Sync or child_process *Sync function', () => {
    const found: string[] = [];
    const dir = path.join(root, 'src', 'extension');
    for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
      if (!rel.endsWith('.ts')) continue;
      const lines = fs.readFileSync(path.join(dir, rel), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line) || !SYNC_CALL.test(line)) return;
        const where = `src/extension/${rel}:${i + 1}`;
        if (!Object.keys(ALLOWED).some((prefix) => where.startsWith(prefix))) found.push(`${where}: ${line.trim()}`);
      });
    }
    assert.deepEqual(found, [], 'use fs.promises / child_process with a callback, or add an entry to ALLOWED with why it cannot wait');
  });

  it('the pattern catches the forms it is meant to (and not waitForDiskSync)', () => {
    for (const text of ['fs.existsSync(marker)', 'const s = fs.statSync(f);', 'lstatSync(file, {})', 'execFileSync("git", [])', 'fs.chmodSync(file, 0o755)']) assert.match(text, SYNC_CALL, text);
    for (const text of ['await waitForDiskSync(document)', 'fs.promises.stat(file)', 'runSync()']) assert.doesNotMatch(text, SYNC_CALL, text);
  });
});
