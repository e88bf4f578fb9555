// The command table (src/extension/commandIds.ts), package.json and the registrations agree: every
// contributed command, every menu item and every `command:` link or `onCommand:` event of
// package.json names a command in the table; every command in the table is contributed and
// registered in src/extension/. Static: it reads the files, so it runs without VS Code.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Commands, InternalCommands } from '../../../src/extension/commandIds';

const root = path.resolve(__dirname, '..', '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; menus: Record<string, { command: string }[]>; keybindings?: { command: string }[] };
};
const OWN_PREFIX = 'agentSwarm.';
const tableIds = new Set<string>(Object.values(Commands));
const internalIds = new Set<string>(Object.values(InternalCommands));

/** Every command id package.json mentions anywhere: menus, keybindings, `command:` links, `onCommand:` events. */
function referencedIds(): Map<string, string> {
  const where = new Map<string, string>();
  for (const [menu, items] of Object.entries(manifest.contributes.menus)) for (const item of items) where.set(item.command, `menus.${menu}`);
  for (const binding of manifest.contributes.keybindings ?? []) where.set(binding.command, 'keybindings');
  const text = JSON.stringify(manifest.contributes);
  for (const match of text.matchAll(/(?:command|onCommand):([\w.]+)/g)) where.set(match[1], 'a command link or activation event');
  return where;
}

/** Ids registered in src/extension/: the table key passed to a register call, resolved through the table. */
function registeredIds(): { ids: Set<string>; literal: string[] } {
  const ids = new Set<string>();
  const literal: string[] = [];
  const tables: Record<string, Record<string, string>> = { Commands, InternalCommands };
  for (const file of sourceFiles(path.join(root, 'src', 'extension'))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\bregister(?:Command|Reported)?\(\s*(?:[\w.]+,\s*)*?(Commands|InternalCommands)\.(\w+)\s*,/g)) {
      const id = tables[match[1]][match[2]];
      assert.ok(id, `${path.relative(root, file)} registers ${match[1]}.${match[2]}, which is not in the table`);
      ids.add(id);
    }
    for (const match of text.matchAll(/registerCommand\(\s*['"`]([^'"`]+)/g)) literal.push(`${path.relative(root, file)}: ${match[1]}`);
  }
  return { ids, literal };
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('command ids: package.json, the table and the registrations agree', () => {
  it('contributes exactly the commands of the table', () => {
    const contributed = new Set(manifest.contributes.commands.map((command) => command.command));
    assert.deepEqual([...contributed].filter((id) => !tableIds.has(id)), [], 'contributed in package.json but missing from Commands in src/extension/commandIds.ts');
    assert.deepEqual([...tableIds].filter((id) => !contributed.has(id)), [], 'in Commands but not contributed in package.json');
    assert.deepEqual([...internalIds].filter((id) => contributed.has(id)), [], 'internal commands must not be contributed');
  });

  it('names only commands of the table in menus, keybindings, links and activation events', () => {
    const unknown = [...referencedIds()].filter(([id]) => id.startsWith(OWN_PREFIX) && !tableIds.has(id)).map(([id, where]) => `${id} (${where})`);
    assert.deepEqual(unknown, []);
  });

  it('registers every command of the table, only through the table', () => {
    const { ids, literal } = registeredIds();
    assert.deepEqual([...tableIds, ...internalIds].filter((id) => !ids.has(id)), [], 'in the table but never registered in src/extension/');
    assert.deepEqual(literal, [], 'register commands by their table entry, not a string');
  });
});
