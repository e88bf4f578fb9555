// The integration runs: each starts a fresh VS Code on a copy of a fixture workspace and runs its
// suite files inside the extension host. A suite file (test/integration/**/<name>.test.ts) that no
// run's `suites` globs name goes to `main`; add a run here only for a different fixture, trust mode
// or settings. See docs/testing.md.
import type { IntegrationRun } from '../harness/launcher/runs';

export const runs: IntegrationRun[] = [
  // Everything not claimed below: a trusted workspace with a board.
  { name: 'main', fixture: 'basic' },
  // The Swarm panel: fills the board (10,000 tasks) and runs a pool with a command executor (the
  // fixture is not a git repository, so working in the folder is opted into).
  { name: 'ui', suites: ['ui/**/*.test.ts'], fixture: 'basic', settings: { 'agentSwarm.executor': { type: 'command', command: 'sleep 2' }, 'agentSwarm.pool.maxAgents': 2, 'agentSwarm.isolation': 'direct' } },
  // Restricted Mode: workspace trust on, folder not trusted. Suites that prove nothing runs there.
  { name: 'untrusted', suites: ['untrusted/**/*.test.ts'], fixture: 'basic', trusted: false },
  // Fix with swarm: lenses, quick fix and fix commands, then a command executor in a git worktree.
  { name: 'fix', suites: ['fix/**/*.test.ts'], fixture: 'basic', git: true },
  // agentSwarm.board on a real redis-server (started by the suite): the views against a Redis board,
  // and a pool on it (a git workspace, a command executor that writes one file).
  { name: 'redis', suites: ['redis/**/*.test.ts'], fixture: 'basic', git: true, settings: { 'agentSwarm.executor': { type: 'command', command: 'printf "shouted\\n" > shout.txt' } } },
  // Review: results in the diff editor, apply (undoable, three-way, conflicts), discard, follow-ups.
  { name: 'review', suites: ['review/**/*.test.ts'], fixture: 'basic', git: true },
];
