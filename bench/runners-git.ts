// Git side of runners on other machines, on the generated repository of bench/worktree.ts
// (20,000 files; BENCH_QUICK=1: 2,000). One origin, the developer's clone with an unpushed commit
// and uncommitted edits, a runner with a repository cache:
//  - post: snapshot + bundle, thin (against the remote) and full (no remote), size and time, and
//    the snapshot alone for reference;
//  - runner: verify + import of a thin bundle into a warm cache repository (and the first, cold one);
//  - result: patch + thin result bundle on the runner, and its import on the developer side.
//   npm run bench:runners-git          (node --import tsx bench/runners-git.ts)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportResult, importResult, importSnapshot, snapshotForRemote, type RemoteSnapshot } from '../src/core/remote';
import { locateRepository, snapshotWorkingState } from '../src/core/worktree';
import { bytes, elapsedMs, generatedFile as file, generateRepo, git, ms, percentile, timed } from './worktree';

const quick = process.env.BENCH_QUICK === '1';
const RUNS = quick ? 5 : 9;


/** The developer keeps working: a new unstaged edit and a new named untracked file per task. */
function developerEdits(dev: string, run: number): string[] {
  fs.appendFileSync(path.join(dev, file(10 + run)), `// developer edit ${run}\n`);
  const note = `notes/task-${run}.md`;
  fs.mkdirSync(path.join(dev, 'notes'), { recursive: true });
  fs.writeFileSync(path.join(dev, note), `notes for task ${run}\n`);
  return [note];
}

/** The agent's work on the runner: three edits and a new file. */
function agentEdits(worktree: string, run: number): void {
  for (const i of [200, 201, 202]) fs.appendFileSync(path.join(worktree, file(i + run)), `// agent edit ${run}\n`);
  fs.writeFileSync(path.join(worktree, `src/added-${run}.ts`), `export const added${run} = ${run};\n`);
}

function line(label: string, values: number[], unit: (value: number) => string = ms): void {
  console.log(`  ${label.padEnd(44)} p50 ${unit(percentile(values, 50)).padEnd(10)} (${values.length} runs: ${unit(Math.min(...values))} to ${unit(Math.max(...values))})`);
}

async function main(): Promise<void> {
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-remote-')));
  try {
    const seed = path.join(parent, 'seed');
    const origin = path.join(parent, 'origin.git');
    const dev = path.join(parent, 'dev');
    const lonely = path.join(parent, 'lonely');
    const reposDir = path.join(parent, 'runner', 'repos');
    const start = process.hrtime.bigint();
    generateRepo(seed);
    git(parent, ['clone', '-q', '--bare', seed, origin]);
    git(parent, ['clone', '-q', origin, dev]);
    git(parent, ['clone', '-q', '--no-local', seed, lonely]);
    git(lonely, ['remote', 'remove', 'origin']);
    const files = git(dev, ['ls-files']).split('\n').length;
    console.log(`Generated repository: ${files.toLocaleString('en-US')} files in ${ms(elapsedMs(start))} (${os.cpus().length} cores, git ${git(dev, ['--version']).split(' ')[2]})`);

    // One unpushed commit on the developer's branch, and a staged edit.
    fs.appendFileSync(path.join(dev, file(1)), '// unpushed\n');
    git(dev, ['commit', '-q', '-am', 'unpushed']);
    fs.appendFileSync(path.join(dev, file(2)), '// staged\n');
    git(dev, ['add', file(2)]);
    fs.appendFileSync(path.join(lonely, file(1)), '// edit\n');

    const post = { snapshot: [] as number[], thin: [] as number[], thinBytes: [] as number[], full: [] as number[], fullBytes: [] as number[] };
    const runner = { cold: 0, warm: [] as number[], full: [] as number[] };
    const result = { export: [] as number[], patchBytes: [] as number[], bundleBytes: [] as number[], back: [] as number[] };
    const options = { reposDir, allowLocalUrls: true };

    for (let run = 0; run < RUNS; run += 1) {
      const taskId = `bench.${run}`;
      const named = developerEdits(dev, run);
      // For reference: the snapshot alone, as a local post takes it.
      const alone = await timed(async () => snapshotWorkingState(await locateRepository(dev), { untracked: named }));
      post.snapshot.push(alone.ms);
      const thin = await timed(() => snapshotForRemote({ workspaceRoot: dev, taskId, files: named }));
      post.thin.push(thin.ms);
      post.thinBytes.push(thin.value.descriptor.bundleBytes);
      if (thin.value.descriptor.bundle !== 'thin') throw new Error(`expected a thin bundle, got ${thin.value.descriptor.bundle}`);

      fs.appendFileSync(path.join(lonely, file(20 + run)), `// edit ${run}\n`);
      const full = await timed(() => snapshotForRemote({ workspaceRoot: lonely, taskId, maxBundleBytes: 1024 ** 3 }));
      post.full.push(full.ms);
      post.fullBytes.push(full.value.descriptor.bundleBytes);

      const imported = await timed(() => importSnapshot(thin.value.descriptor, thin.value.bundle, options));
      if (run === 0) runner.cold = imported.ms;
      else runner.warm.push(imported.ms);
      const fullImport = await timed(() => importSnapshot((full.value as RemoteSnapshot).descriptor, full.value.bundle, options));
      if (run > 0) runner.full.push(fullImport.ms);

      const worktree = path.join(parent, 'runner', `slot-${run}`);
      git(imported.value.gitDir, ['worktree', 'add', '-q', '--detach', worktree, imported.value.commit]);
      agentEdits(worktree, run);
      const exported = await timed(() => exportResult({ worktree, taskId, snapshot: imported.value.commit }));
      result.export.push(exported.ms);
      result.patchBytes.push(Buffer.byteLength(exported.value.patch));
      result.bundleBytes.push(exported.value.descriptor.bundleBytes);
      const back = await timed(() => importResult({ repository: dev, descriptor: exported.value.descriptor, bundle: exported.value.bundle, patch: exported.value.patch }));
      result.back.push(back.ms);
      git(imported.value.gitDir, ['worktree', 'remove', '--force', worktree]);
    }

    console.log('\nPost (developer): snapshot of the working state + bundle');
    line('snapshot alone (for reference), time', post.snapshot);
    line('thin bundle (against origin), time', post.thin);
    line('thin bundle size', post.thinBytes, bytes);
    line('full bundle (no remote), time', post.full);
    line('full bundle size', post.fullBytes, bytes);
    console.log('\nRunner: verify + import into the repository cache');
    console.log(`  first task, cache created (clone of origin)  ${ms(runner.cold)}`);
    line('thin bundle, warm cache', runner.warm);
    line('full bundle, warm cache', runner.full);
    console.log('\nResult: patch + thin result bundle (runner), import + patch check (developer)');
    line('export on the runner, time', result.export);
    line('patch size', result.patchBytes, bytes);
    line('result bundle size', result.bundleBytes, bytes);
    line('import on the developer side, time', result.back);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
