// The escape scenario of issue 14, shared by the sandbox attack tests: a repository with a local
// npm dependency, one more worktree (another "slot"), a fake $HOME, and a script that tries every
// escape the tester found and then does legitimate work (an edit, a commit, an npm install).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileBoard } from '../../src/core/board';
import { createWorktreeIsolation } from '../../src/core/worktree';
import { fakeTask, git, makeRepo, type TempRepo } from '../unit/worktree/helpers';

export const ESCAPE_SCRIPT = `#!/bin/sh
# Escapes: every one must be refused inside the sandbox.
echo escaped > "$CHECKOUT/escaped-absolute.txt" || echo "refused: absolute"
rel=$(realpath --relative-to="$PWD" "$CHECKOUT")
echo escaped > "$rel/escaped-relative.txt" || echo "refused: relative ($rel)"
git config core.hooksPath /tmp/evil-hooks || echo "refused: git config"
echo escaped > "$HOME/escaped-home.txt" || echo "refused: home"
for wt in $(git worktree list --porcelain | sed -n 's/^worktree //p'); do
  [ "$(realpath "$wt")" = "$(realpath "$(git rev-parse --show-toplevel)")" ] && continue
  echo escaped > "$wt/escaped-slot.txt" || echo "refused: worktree $wt"
done
if [ -n "$BOARD" ]; then echo '{}' > "$BOARD/pending/forged.json" || echo "refused: board"; fi
# Legitimate work: must succeed.
echo legit > legit.txt
git add legit.txt && git -c user.name=agent -c user.email=agent@example.com commit -q -m "agent commit" && echo "committed"
npm install --offline --no-audit --no-fund --loglevel=error && echo "installed"
test -f node_modules/localpkg/index.js
`;

export interface EscapeScene {
  repo: TempRepo;
  checkout: string;
  home: string;
  otherWorktree: string;
  board: FileBoard;
  boardRoot: string;
  env: Record<string, string>;
  cleanup(): void;
}

export async function escapeScene(): Promise<EscapeScene> {
  const repo = makeRepo({
    'README.md': '# demo\n',
    'escape.sh': ESCAPE_SCRIPT,
    '.gitignore': 'node_modules/\n',
    'package.json': `${JSON.stringify({ name: 'demo', version: '1.0.0', private: true, dependencies: { localpkg: 'file:vendor/localpkg-1.0.0.tgz' } }, null, 2)}\n`,
  });
  const checkout = fs.realpathSync(repo.root);
  const parent = path.dirname(checkout);
  // The local dependency as an npm tarball (package/ prefix), committed: npm install needs no network.
  const packageDir = path.join(parent, 'pkgsrc', 'package');
  fs.mkdirSync(packageDir, { recursive: true });
  fs.writeFileSync(path.join(packageDir, 'package.json'), JSON.stringify({ name: 'localpkg', version: '1.0.0', main: 'index.js' }));
  fs.writeFileSync(path.join(packageDir, 'index.js'), 'module.exports = 42;\n');
  fs.mkdirSync(path.join(checkout, 'vendor'));
  execFileSync('tar', ['-czf', path.join(checkout, 'vendor', 'localpkg-1.0.0.tgz'), '-C', path.dirname(packageDir), 'package']);
  git(checkout, ['add', '-A']);
  git(checkout, ['commit', '-q', '-m', 'dependency']);
  // Another agent slot, made by the isolation itself (wherever slots live).
  const slots = createWorktreeIsolation({ workspaceRoot: checkout });
  const slotTask = fakeTask();
  const artifacts = path.join(parent, 'slot-artifacts');
  const prepared = await slots.prepare(slotTask, 's9', artifacts);
  await slots.collect(slotTask, 's9', prepared, artifacts);
  const otherWorktree = fs.realpathSync(prepared.cwd);
  const home = path.join(parent, 'home');
  fs.mkdirSync(home);
  const boardRoot = path.join(checkout, '.swarm');
  const board = FileBoard.open({ root: boardRoot, durable: false });
  return {
    repo,
    checkout,
    home,
    otherWorktree,
    board,
    boardRoot,
    env: { HOME: home, CHECKOUT: checkout, BOARD: boardRoot },
    cleanup: () => {
      board.close();
      repo.cleanup();
    },
  };
}

/** Every escape target of the script, as the refusal lines must name them. */
export function escapeTargets(scene: EscapeScene): Record<string, string> {
  return {
    absolute: path.join(scene.checkout, 'escaped-absolute.txt'),
    relative: path.join(scene.checkout, 'escaped-relative.txt'),
    config: path.join(scene.checkout, '.git', 'config'),
    home: path.join(scene.home, 'escaped-home.txt'),
    worktree: path.join(scene.otherWorktree, 'escaped-slot.txt'),
    checkoutAsWorktree: path.join(scene.checkout, 'escaped-slot.txt'),
    board: path.join(scene.boardRoot, 'pending', 'forged.json'),
  };
}

export function tempParent(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-attack-')));
}
