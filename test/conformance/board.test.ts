// One set of rules, run against every board: the file board (through its async adapter) and the
// Redis board (on a real redis-server started by the harness). Real time, short leases, and
// conditions polled with generous deadlines, so the same tests hold on a loaded machine.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { BoardInputError, LeaseLostError, type BoardEvent } from '../../src/core/board/types';
import { MAX_LEASE_MS, MAX_TIME_MS } from '../../src/core/board';
import { EVENTS_START, leaseLostCause, type Board, type EventBatch } from '../../src/core/board/interface';
import { eventually, fileBoards, pause, redisBoards, type BoardKind } from './support';

const kinds: BoardKind[] = [fileBoards(), redisBoards()];

async function eventTypes(board: Board): Promise<BoardEvent[]> {
  const events: BoardEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor);
    events.push(...batch.events);
    if (batch.events.length === 0 || batch.cursor === cursor) return events;
    cursor = batch.cursor;
  }
}

async function claimEventually(board: Board, agent: string, leaseMs = 30_000) {
  return eventually(`a claim by ${agent}`, async () => {
    await board.reclaimExpired();
    return board.claim({ agent, leaseMs });
  });
}

async function assertLeaseLost(action: Promise<unknown>, cause: string): Promise<void> {
  await assert.rejects(action, (error: Error) => {
    assert.ok(error instanceof LeaseLostError, `expected LeaseLostError, got ${error.name}: ${error.message}`);
    assert.equal(leaseLostCause(error), cause, error.message);
    return true;
  });
}

for (const kind of kinds) {
  describe(`board conformance: ${kind.name}`, { timeout: 300_000 }, () => {
    before(() => kind.start());
    after(() => kind.stop());
    afterEach(() => kind.closeAll());

    describe('posting and claim order', () => {
      it('claims highest priority first, then oldest', async () => {
        const { board } = await kind.fresh();
        const low = await board.post({ title: 'low', priority: -1 });
        const oldNormal = await board.post({ title: 'normal old' });
        const high = await board.post({ title: 'high', priority: 5 });
        const newNormal = await board.post({ title: 'normal new' });
        const order: string[] = [];
        for (let i = 0; i < 4; i++) order.push((await board.claim({ agent: 'a' }))!.task.id);
        assert.deepEqual(order, [high.id, oldNormal.id, newNormal.id, low.id]);
        assert.equal(await board.claim({ agent: 'a' }), undefined);
      });

      it('keeps a task with a future notBefore waiting until its time', async () => {
        const { board } = await kind.fresh();
        const notBefore = Date.now() + 800;
        const later = await board.post({ title: 'later', notBefore });
        assert.equal(await board.claim({ agent: 'a' }), undefined);
        const read = (await board.get(later.id))!;
        assert.equal(read.status, 'pending');
        assert.equal(read.notBefore, notBefore);
        const claim = await eventually('the delayed task', () => board.claim({ agent: 'a' }));
        assert.ok(Date.now() >= notBefore, 'not claimable before notBefore');
        assert.equal(claim.task.id, later.id);
      });

      it('rejects invalid tasks with a clear error and writes nothing', async () => {
        const { board } = await kind.fresh();
        await assert.rejects(board.post({ title: '  ' }), (e: Error) => e instanceof BoardInputError && /title must not be empty/.test(e.message));
        await assert.rejects(board.post({ title: 'x', files: ['../outside.ts'] }), /without ".."/);
        await assert.rejects(board.post({ title: 'x', maxAttempts: 0 }), /maxAttempts/);
        await assert.rejects(board.postMany([{ title: 'ok' }, { title: '' }]), BoardInputError);
        await assert.rejects(board.post({ title: 'orphan', parentId: 'tnosuchparent' }), /does not exist/);
        await assert.rejects(board.claim({ agent: 'bad agent!' }), BoardInputError);
        assert.equal((await board.list()).total, 0);
        assert.equal((await eventTypes(board)).length, 0);
      });

      it('stores every field and reads it back', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 'Fix', type: 'fix', prompt: 'do it', files: ['./src/a.ts', 'src/a.ts'], priority: 3, payload: { line: 4, tags: [] }, maxAttempts: 5 });
        const read = (await board.get(task.id))!;
        assert.deepEqual(
          { title: read.title, type: read.type, prompt: read.prompt, files: read.files, priority: read.priority, payload: read.payload, maxAttempts: read.maxAttempts, status: read.status, attempts: read.attempts },
          { title: 'Fix', type: 'fix', prompt: 'do it', files: ['src/a.ts'], priority: 3, payload: { line: 4, tags: [] }, maxAttempts: 5, status: 'pending', attempts: 0 },
        );
        assert.equal(await board.get('tnosuchtask'), undefined);
        await assert.rejects(board.get('../x'), BoardInputError);
      });
    });

    describe('routing: a claimer takes only what it serves', () => {
      const source = (repository: string, snapshotId: string) => ({ repository, prefix: '', snapshot: 'a'.repeat(40), snapshotId, bundle: 'none' as const, bundleBytes: 0 });
      const gpuOnly = { labels: ['gpu'], repositories: ['github.com/a/b'], unsourced: false };

      it('never claims a task whose labels or repository it lacks: no claim, no attempt, no claim event', async () => {
        const { board } = await kind.fresh();
        const needsArm = await board.post({ title: 'arm', requires: ['arm64'], source: source('github.com/a/b', 'tsnapshot0001') });
        const otherRepo = await board.post({ title: 'other repo', requires: ['gpu'], source: source('github.com/c/d', 'tsnapshot0002') });
        const unsourced = await board.post({ title: 'no snapshot' });
        for (let i = 0; i < 5; i++) assert.equal(await board.claim({ agent: 'runner', serves: gpuOnly }), undefined);
        for (const task of [needsArm, otherRepo, unsourced]) {
          const read = (await board.get(task.id))!;
          assert.equal(read.status, 'pending');
          assert.equal(read.attempts, 0);
        }
        const types = (await eventTypes(board)).map((event) => event.type);
        assert.ok(!types.includes('claimed') && !types.includes('requeued'), `no claim or release: ${types.join(', ')}`);
        assert.equal((await board.stats()).counts.pending, 3);
      });

      it('claims what it serves in claim order, skipping what it does not, and a claimer without a capability set takes the rest', async () => {
        const { board } = await kind.fresh();
        const skipped = await board.post({ title: 'needs arm', requires: ['arm64'], priority: 9, source: source('github.com/a/b', 'tsnapshot0003') });
        const low = await board.post({ title: 'low', requires: ['gpu'], priority: 1, source: source('github.com/a/b', 'tsnapshot0003') });
        const high = await board.post({ title: 'high', priority: 5, source: source('github.com/a/b', 'tsnapshot0003') });
        const anyRepo = await board.post({ title: 'any repo', source: source('github.com/e/f', 'tsnapshot0004') });
        assert.equal((await board.claim({ agent: 'r', serves: gpuOnly }))!.task.id, high.id);
        assert.equal((await board.claim({ agent: 'r', serves: gpuOnly }))!.task.id, low.id);
        assert.equal(await board.claim({ agent: 'r', serves: gpuOnly }), undefined);
        assert.equal((await board.claim({ agent: 'cache', serves: { labels: [], repositories: 'any', unsourced: false } }))!.task.id, anyRepo.id);
        assert.equal((await board.claim({ agent: 'local' }))!.task.id, skipped.id);
      });

      it('a claimer with a local workspace serves tasks posted without a snapshot; labels still apply', async () => {
        const { board } = await kind.fresh();
        const plain = await board.post({ title: 'plain' });
        const labelled = await board.post({ title: 'labelled', requires: ['linux'] });
        const serves = { labels: [], repositories: [], unsourced: true };
        assert.equal((await board.claim({ agent: 'w', serves }))!.task.id, plain.id);
        assert.equal(await board.claim({ agent: 'w', serves }), undefined);
        assert.equal((await board.claim({ agent: 'w', serves: { ...serves, labels: ['linux'] } }))!.task.id, labelled.id);
      });
    });

    describe('inputs at their limits (the shared schema)', () => {
      it('a post of more tasks than ids fit in a millisecond keeps every task, each with its own id, in posting order', async () => {
        const { board } = await kind.fresh();
        const count = 3_000; // the id's counter holds 1,296 per millisecond
        const posted = await board.postMany(Array.from({ length: count }, (_, i) => ({ title: `bulk ${i}` })));
        assert.equal(new Set(posted.map((task) => task.id)).size, count, 'every id is new');
        const listed: string[] = [];
        for (let cursor: string | undefined; ; ) {
          const page = await board.list({ limit: 1_000, ...(cursor ? { cursor } : {}) });
          listed.push(...page.tasks.map((task) => task.title));
          if (!page.nextCursor || page.tasks.length === 0) break;
          cursor = page.nextCursor;
        }
        assert.equal(listed.length, count, 'every task is on the board');
        assert.deepEqual(listed, posted.map((task) => task.title), 'listed in posting order');
      });

      it('notBefore: 0 and the latest time read back as given; later, negative, fractional and non-numbers are refused', async () => {
        const { board } = await kind.fresh();
        const zero = await board.post({ title: 'zero', notBefore: 0 });
        assert.equal((await board.get(zero.id))!.status, 'pending');
        assert.equal((await board.claim({ agent: 'a' }))!.task.id, zero.id, 'claimable at once');
        const latest = await board.post({ title: 'latest', notBefore: MAX_TIME_MS });
        assert.equal((await board.get(latest.id))!.notBefore, MAX_TIME_MS);
        assert.equal(await board.claim({ agent: 'a' }), undefined, 'not claimable before its time');
        for (const bad of [MAX_TIME_MS + 1, 253402214400000, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
          await assert.rejects(board.post({ title: 'bad', notBefore: bad }), BoardInputError, String(bad));
        }
        assert.equal((await board.list()).total, 2, 'nothing refused was written');
      });

      it('priority, maxAttempts, lease lengths and retry times: the limits pass, one past them and fractions are refused', async () => {
        const { board } = await kind.fresh();
        for (const priority of [-9999, 0, 9999]) await board.post({ title: `p${priority}`, priority });
        for (const priority of [-10000, 10000, 0.5, Number.NaN]) await assert.rejects(board.post({ title: 'x', priority }), BoardInputError, String(priority));
        for (const maxAttempts of [1, 100]) await board.post({ title: `m${maxAttempts}`, maxAttempts });
        for (const maxAttempts of [0, 101, 2.5, -1]) await assert.rejects(board.post({ title: 'x', maxAttempts }), BoardInputError, String(maxAttempts));
        for (const leaseMs of [0, -1, 1.5, Number.NaN, MAX_LEASE_MS + 1]) {
          await assert.rejects(board.claim({ agent: 'a', leaseMs }), BoardInputError, String(leaseMs));
        }
        assert.equal((await board.stats()).counts.running, 0, 'a refused claim took nothing');
        const claim = (await board.claim({ agent: 'a', leaseMs: MAX_LEASE_MS }))!;
        assert.equal(claim.task.priority, 9999);
        await assert.rejects(board.heartbeat(claim, MAX_LEASE_MS + 1), BoardInputError);
        await assert.rejects(board.fail(claim, 'x', { retryAt: Number.NaN }), BoardInputError);
        await assert.rejects(board.fail(claim, 42 as unknown as string), BoardInputError);
        await assert.rejects(board.complete(claim, () => 1), BoardInputError, 'a result with no JSON form');
        const failed = await board.fail(claim, 'rate limited', { retryAt: Number.MAX_SAFE_INTEGER });
        assert.equal(failed.notBefore, MAX_TIME_MS, 'a retry time beyond the latest time is capped, not garbled');
        assert.equal((await board.get(claim.task.id))!.notBefore, MAX_TIME_MS);
      });

      it('text people write reads back exactly, odd characters included (a lone UTF-16 surrogate, NUL, emoji, quotes)', async () => {
        const { board } = await kind.fresh({ retry: { baseMs: 10, capMs: 10, jitter: 0 } });
        const odd = 'x\ud800 "q" \\ \u0000 🙂 \udc00';
        const file = 'src/x\ud800 "q" 🙂.ts'; // a file name may hold anything but NUL
        const task = await board.post({ title: odd, prompt: odd, files: [file], payload: { odd } });
        const read = (await board.get(task.id))!;
        assert.deepEqual([read.title, read.prompt, read.files, read.payload], [odd, odd, [file], { odd }]);
        const posted = (await eventTypes(board)).find((e) => e.type === 'posted')!;
        assert.equal(posted.detail!.title, odd);
        await board.fail((await board.claim({ agent: 'a' }))!, odd);
        assert.equal((await board.errors(task.id))[0].message, odd);
        assert.equal((await eventTypes(board)).find((e) => e.type === 'failed')!.detail!.message, odd);
        await board.release(await eventually('the retry', () => board.claim({ agent: 'a' })), odd);
        assert.equal((await eventTypes(board)).find((e) => e.type === 'requeued')!.detail!.reason, odd);
        await board.complete(await eventually('the released task', () => board.claim({ agent: 'a' })), { odd });
        assert.deepEqual((await board.get(task.id))!.result, { odd });
      });

      it('task files stay inside the workspace: absolute paths, "..", .git folders (any case or trailing dot) are refused', async () => {
        const { board } = await kind.fresh();
        const refused: [string, RegExp][] = [
          ['/etc/passwd', /absolute/],
          ['\\\\server\\share', /absolute/],
          ['C:\\Windows\\x', /absolute/],
          ['../outside.ts', /without "\.\."/],
          ['src/../../x', /without "\.\."/],
          ['.git/config', /\.git folder/],
          ['sub/.GIT/hooks/pre-commit', /\.git folder/],
          ['.git./config', /\.git folder/],
          ['.', /workspace itself/],
          ['a\0b', /NUL/],
        ];
        for (const [file, message] of refused) {
          await assert.rejects(board.post({ title: 'x', files: [file] }), (error: Error) => error instanceof BoardInputError && message.test(error.message), file);
          await assert.rejects(board.map({ title: 'm' }, [{ title: 'c', files: [file] }]), BoardInputError, file);
        }
        const fine = await board.post({ title: 'ok', files: ['.gitignore', '.github/workflows/ci.yml', 'x.git', 'src/a~b.ts', '~/literal'] });
        assert.deepEqual((await board.get(fine.id))!.files, ['.gitignore', '.github/workflows/ci.yml', 'x.git', 'src/a~b.ts', '~/literal']);
        await assert.rejects(board.post({ title: 'x', file: ['a.ts'] } as never), /unknown field "file"/);
        assert.equal((await board.list()).total, 1, 'nothing refused was written');
        assert.deepEqual(await board.postMany([]), []);
      });
    });

    describe('leases', () => {
      it('gives every task to exactly one of many racing claimers', async () => {
        const { board, another } = await kind.fresh();
        const second = await another();
        const posted = await board.postMany(Array.from({ length: 20 }, (_, i) => ({ title: `t${i}` })));
        const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? board : second).claim({ agent: `racer-${i}` })));
        const ids = claims.filter((claim) => claim !== undefined).map((claim) => claim!.task.id);
        assert.equal(ids.length, 20);
        assert.equal(new Set(ids).size, 20);
        assert.deepEqual([...ids].sort(), posted.map((task) => task.id).sort());
      });

      it('records the holder and the lease expiry, and heartbeats extend it', async () => {
        const { board } = await kind.fresh();
        await board.post({ title: 't' });
        const before = Date.now();
        const claim = (await board.claim({ agent: 'agent-1', leaseMs: 2_000 }))!;
        assert.equal(claim.task.claimedBy, 'agent-1');
        assert.equal(claim.task.status, 'running');
        assert.equal(claim.task.attempts, 1);
        assert.ok(claim.leaseExpiresAt >= before + 2_000 && claim.leaseExpiresAt <= Date.now() + 2_000);
        const renewedTo = await board.heartbeat(claim, 10_000);
        assert.ok(renewedTo >= Date.now() + 9_000);
        const read = (await board.get(claim.task.id))!;
        assert.equal(read.claimedBy, 'agent-1');
        assert.ok(Math.abs(read.leaseExpiresAt! - renewedTo) < 1_000, `lease ${read.leaseExpiresAt} vs ${renewedTo}`);
      });

      it('finds a running claim by task id and holder, for callers without the token', async () => {
        const { board, another } = await kind.fresh();
        const cli = await another();
        const task = await board.post({ title: 't' });
        const claim = (await board.claim({ agent: 'agent-7' }))!;
        const found = (await cli.findClaim(task.id, 'agent-7'))!;
        assert.equal(found.token, claim.token);
        assert.equal(found.task.id, task.id);
        assert.equal(await cli.findClaim(task.id, 'someone-else'), undefined);
        await cli.complete(found, { via: 'cli' });
        assert.equal(await cli.findClaim(task.id, 'agent-7'), undefined);
        assert.deepEqual((await board.get(task.id))!.result, { via: 'cli' });
      });

      it('reclaims an expired lease, and the stale holder is refused', async () => {
        const { board, another } = await kind.fresh();
        const rescuerBoard = await another();
        const task = await board.post({ title: 't' });
        const first = (await board.claim({ agent: 'crashed', leaseMs: 300 }))!;
        const second = await claimEventually(rescuerBoard, 'rescuer');
        assert.equal(second.task.id, task.id);
        assert.equal(second.task.attempts, 2);
        await assertLeaseLost(board.complete(first, { late: true }), 'reclaimed');
        await assertLeaseLost(board.heartbeat(first), 'reclaimed');
        await assertLeaseLost(board.fail(first, 'late failure'), 'reclaimed');
        await rescuerBoard.complete(second, { ok: true });
        const done = (await board.get(task.id))!;
        assert.equal(done.status, 'done');
        assert.deepEqual(done.result, { ok: true });
        const errors = await board.errors(task.id);
        assert.equal(errors.length, 1);
        assert.equal(errors[0].kind, 'lease-expired');
        assert.equal(errors[0].agent, 'crashed');
        const events = await eventTypes(board);
        assert.equal(events.filter((e) => e.type === 'completed').length, 1, 'the late result is not counted');
        assert.equal(events.filter((e) => e.type === 'reclaimed').length, 1);
      });

      it('a holder whose lease ran out but was not reclaimed yet may still heartbeat and complete', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 'slow holder' });
        const claim = (await board.claim({ agent: 'slow', leaseMs: 200 }))!;
        await eventually('the lease to run out', async () => Date.now() > claim.leaseExpiresAt + 200);
        const renewedTo = await board.heartbeat(claim, 30_000);
        assert.ok(renewedTo > Date.now() + 20_000);
        await board.reclaimExpired();
        assert.equal((await board.get(task.id))!.status, 'running', 'renewed, so not reclaimed');
        assert.equal((await board.complete(claim, { late: 'but fine' })).status, 'done');
        assert.deepEqual(await board.errors(task.id), []);
        const second = await board.post({ title: 'slower holder' });
        const late = (await board.claim({ agent: 'slow', leaseMs: 200 }))!;
        await eventually('the lease to run out', async () => Date.now() > late.leaseExpiresAt + 200);
        assert.equal((await board.fail(late, 'late failure', { permanent: true })).status, 'dead');
        assert.deepEqual((await board.errors(second.id)).map((error) => error.kind), ['failed']);
        assert.equal(await board.claim({ agent: 'other' }), undefined, 'nothing left to run');
      });

      it('does not reclaim a lease that keeps being renewed', async () => {
        const { board, another } = await kind.fresh();
        const other = await another();
        await board.post({ title: 't' });
        const claim = (await board.claim({ agent: 'slow', leaseMs: 600 }))!;
        const until = Date.now() + 2_000;
        while (Date.now() < until) {
          await board.heartbeat(claim, 600);
          await other.reclaimExpired();
          assert.equal(await other.claim({ agent: 'thief' }), undefined);
          await pause(100);
        }
        await board.complete(claim);
        assert.equal((await board.errors(claim.task.id)).length, 0);
      });

      it('sends a task whose lease keeps expiring to the dead-letter queue after maxAttempts', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 'poison', maxAttempts: 2 });
        assert.ok(await board.claim({ agent: 'a', leaseMs: 200 }));
        await claimEventually(board, 'b', 200);
        const dead = await eventually('the task to die', async () => {
          await board.reclaimExpired();
          const read = await board.get(task.id);
          return read?.status === 'dead' ? read : undefined;
        });
        assert.equal(dead.attempts, 2);
        assert.deepEqual((await board.errors(task.id)).map((e) => e.kind), ['lease-expired', 'lease-expired']);
        assert.equal((await board.stats()).counts.dead, 1);
      });

      it('hands a released claim back without counting the attempt', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 't', files: ['a.ts'] });
        const claim = (await board.claim({ agent: 'a' }))!;
        const released = await board.release(claim, 'shutting down');
        assert.equal(released.status, 'pending');
        assert.equal(released.attempts, 0);
        await assertLeaseLost(board.complete(claim), 'reclaimed');
        const again = await eventually('the released task', () => board.claim({ agent: 'b' }));
        assert.equal(again.task.id, task.id);
        assert.equal(again.task.attempts, 1);
        const requeued = (await eventTypes(board)).find((e) => e.type === 'requeued');
        assert.equal(requeued?.detail?.released, true);
      });
    });

    describe('batches in the event log', () => {
      it('noteBatch writes a batched event per claim naming the batch, and a completion whose result names a batch says so', async () => {
        const { board } = await kind.fresh();
        await board.postMany([{ title: 'one', files: ['a.ts'] }, { title: 'two', files: ['b.ts'] }, { title: 'alone' }]);
        const first = (await board.claim({ agent: 'a' }))!;
        const second = (await board.claim({ agent: 'a' }))!;
        const alone = (await board.claim({ agent: 'b' }))!;
        const batch = [first.task.id, second.task.id];
        await board.noteBatch([first, second]);
        await board.complete(first, { summary: 'x', batch });
        await board.complete(second, { summary: 'y', batch });
        await board.complete(alone, { summary: 'z', batch: [alone.task.id] });
        const events = await eventTypes(board);
        for (const claim of [first, second]) {
          const batched = events.find((e) => e.type === 'batched' && e.taskId === claim.task.id);
          const named = { batch: first.task.id, tasks: 2 };
          assert.deepEqual(batched?.detail, claim === first ? { ...named, ids: batch } : named, JSON.stringify(events));
          assert.equal(batched?.agent, 'a');
          assert.equal(batched?.attempt, 1);
          assert.deepEqual(events.find((e) => e.type === 'completed' && e.taskId === claim.task.id)?.detail, named);
        }
        assert.equal(events.find((e) => e.type === 'completed' && e.taskId === alone.task.id)?.detail, undefined, 'a batch of one is no batch');
      });

      it('a result whose batch is not a list of task ids puts nothing of it in the completed event (results are not size-capped)', async () => {
        const { board } = await kind.fresh();
        await board.postMany([{ title: 'one' }, { title: 'two' }]);
        const first = (await board.claim({ agent: 'a' }))!;
        const second = (await board.claim({ agent: 'a' }))!;
        await board.complete(first, { summary: 'x', batch: ['x'.repeat(1_000_000), second.task.id] });
        await board.complete(second, { summary: 'y', batch: [second.task.id, 'Not An Id!'] });
        for (const claim of [first, second]) {
          const completed = (await eventTypes(board)).find((e) => e.type === 'completed' && e.taskId === claim.task.id);
          assert.equal(completed?.detail, undefined, JSON.stringify(completed).slice(0, 200));
        }
      });

      it('the events of a batch grow with its size, not its square: only the first task\'s batched event lists the tasks', async () => {
        const { board } = await kind.fresh();
        const size = 200; // a batch may hold up to 1,000 tasks (batch: N)
        await board.postMany(Array.from({ length: size }, (_, index) => ({ title: `t${index}` })));
        const claims = [];
        for (let index = 0; index < size; index++) claims.push((await board.claim({ agent: 'a' }))!);
        const batch = claims.map((claim) => claim.task.id);
        await board.noteBatch(claims);
        for (const claim of claims) await board.complete(claim, { summary: 'x', batch });
        const ofBatch = (await eventTypes(board)).filter((e) => e.type === 'batched' || e.type === 'completed');
        assert.equal(ofBatch.length, 2 * size);
        const bytes = ofBatch.reduce((sum, e) => sum + JSON.stringify(e).length, 0);
        // Listing every task in each of the 400 events wrote about 1.4 MB here (34 MB for 1,000 tasks).
        assert.ok(bytes < 2 * size * 300, `${bytes} bytes of events for a batch of ${size}`);
        const leader = ofBatch.find((e) => e.type === 'batched' && e.taskId === batch[0]);
        assert.deepEqual(leader?.detail, { batch: batch[0], tasks: size, ids: batch }, 'the first task\'s batched event lists them all');
        for (const claim of claims.slice(1)) {
          const named = (type: string) => ofBatch.find((e) => e.type === type && e.taskId === claim.task.id)?.detail;
          assert.deepEqual(named('batched'), { batch: batch[0], tasks: size }, 'every other task names its batch by the first task');
          assert.deepEqual(named('completed'), { batch: batch[0], tasks: size });
        }
      });
    });

    describe('lease loss has a typed cause', () => {
      it('cancelled, reclaimed, ended and missing are told apart without reading the message', async () => {
        const { board, another } = await kind.fresh();
        const rescuerBoard = await another();
        await board.post({ title: 'cancel me' });
        const cancelled = (await board.claim({ agent: 'a' }))!;
        await board.cancel(cancelled.task.id);
        await assertLeaseLost(board.heartbeat(cancelled), 'cancelled');

        const target = await board.post({ title: 'reclaim me' });
        const expired = (await board.claim({ agent: 'a', leaseMs: 200 }))!;
        const rescuer = await claimEventually(rescuerBoard, 'a'); // the same agent name, a later attempt
        assert.equal(rescuer.task.id, target.id);
        await assertLeaseLost(board.complete(expired, { late: true }), 'reclaimed');
        await rescuerBoard.complete(rescuer, { ok: true });
        await assertLeaseLost(board.complete(expired), 'reclaimed'); // ended by another claim after ours expired
        await assertLeaseLost(board.heartbeat(rescuer), 'ended');
        if (kind.differences.repeatableComplete) {
          // A completion whose reply was lost can be sent again (see support.ts).
          assert.equal((await rescuerBoard.complete(rescuer, { ok: true })).status, 'done');
        } else {
          await assertLeaseLost(rescuerBoard.complete(rescuer), 'ended');
        }
        assert.deepEqual((await board.get(target.id))!.result, { ok: true }, 'the late result is not recorded');

        await board.post({ title: 'vanishes' });
        const vanished = (await board.claim({ agent: 'a' }))!;
        await kind.removeBehindBoard(board, vanished);
        await assertLeaseLost(board.heartbeat(vanished), 'missing');
        await assert.rejects(board.heartbeat({ token: 'not a token' }), BoardInputError);
      });
    });

    describe('failure, retry and the dead-letter queue', () => {
      it('retries with exponential backoff inside the jitter bounds, never early', async () => {
        const { board } = await kind.fresh({ retry: { baseMs: 400, multiplier: 2, capMs: 700, jitter: 0.5 } });
        const task = await board.post({ title: 'flaky', maxAttempts: 3 });
        const bounds: [number, number][] = [[200, 400], [350, 700]];
        for (const [attempt, [low, high]] of bounds.entries()) {
          const claim = await eventually('the retried task', () => board.claim({ agent: 'a' }));
          assert.equal(claim.task.id, task.id);
          assert.equal(claim.task.attempts, attempt + 1);
          const failedAt = Date.now();
          const failed = await board.fail(claim, `connection reset ${attempt + 1}`);
          assert.equal(failed.status, 'pending');
          assert.equal(failed.lastError?.message, `connection reset ${attempt + 1}`);
          const delayMs = failed.notBefore! - failedAt;
          assert.ok(delayMs >= low - 50 && delayMs <= high + 50, `retry ${attempt + 1} after ${delayMs} ms, expected ${low}-${high}`);
          const next = await eventually('the retry', () => board.claim({ agent: 'a' }));
          assert.ok(Date.now() >= failed.notBefore!, 'not claimable before its retry time');
          await board.release(next);
        }
        assert.deepEqual((await board.errors(task.id)).map((e) => e.attempt), [1, 2]);
      });

      it('dead-letters after maxAttempts and at once for permanent errors, with the history', async () => {
        const { board } = await kind.fresh({ retry: { baseMs: 10, capMs: 10, multiplier: 1, jitter: 0 } });
        const flaky = await board.post({ title: 'flaky', maxAttempts: 2 });
        await board.fail((await board.claim({ agent: 'a' }))!, 'first');
        await board.fail(await eventually('the retry', () => board.claim({ agent: 'a' })), 'second');
        assert.equal((await board.get(flaky.id))!.status, 'dead');
        assert.deepEqual((await board.errors(flaky.id)).map((e) => e.message), ['first', 'second']);
        const broken = await board.post({ title: 'broken', maxAttempts: 5 });
        const dead = await board.fail((await board.claim({ agent: 'a' }))!, 'bad configuration', { permanent: true });
        assert.equal(dead.status, 'dead');
        assert.equal((await board.get(broken.id))!.lastError!.message, 'bad configuration');
        assert.equal((await board.errors(broken.id))[0].permanent, true);
        assert.equal((await board.stats()).counts.dead, 2);
        const deadPage = await board.list({ status: 'dead' });
        assert.deepEqual(deadPage.tasks.map((task) => task.id).sort(), [flaky.id, broken.id].sort());
        const types = (await eventTypes(board)).map((e) => e.type);
        assert.equal(types.filter((type) => type === 'dead').length, 2);
      });

      it('requeues dead tasks with a fresh budget and keeps their errors', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 't', maxAttempts: 1 });
        await board.fail((await board.claim({ agent: 'a' }))!, 'boom');
        const other = await board.post({ title: 'other' });
        await assert.rejects(board.requeue(other.id), /only dead tasks/);
        const requeued = await board.requeue(task.id);
        assert.equal(requeued.status, 'pending');
        assert.equal(requeued.attempts, 0);
        const claims = [await board.claim({ agent: 'a' }), await board.claim({ agent: 'a' })];
        const claim = claims.find((c) => c?.task.id === task.id)!;
        assert.equal(claim.task.attempts, 1);
        assert.equal((await board.errors(task.id)).length, 1);
        await board.fail(claim, 'boom again');
        const all = await board.requeueAll();
        assert.deepEqual(all.map((t) => t.id), [task.id]);
        assert.equal((await board.errors(task.id)).length, 2);
      });

      it('honours a retryAt later than the backoff (a rate limit reset)', async () => {
        const { board } = await kind.fresh();
        await board.post({ title: 't' });
        const retryAt = Date.now() + 60_000;
        const failed = await board.fail((await board.claim({ agent: 'a' }))!, '429', { retryAt });
        assert.equal(failed.notBefore, retryAt);
        assert.equal((await board.get(failed.id))!.notBefore, retryAt);
        assert.equal(await board.claim({ agent: 'a' }), undefined);
      });
    });

    describe('cancel', () => {
      it('cancels pending and running tasks; a holder elsewhere loses its lease at its next heartbeat', async () => {
        const { board, another } = await kind.fresh();
        const holderBoard = await another();
        const queued = await board.post({ title: 'queued' });
        const running = await board.post({ title: 'running', priority: 1, files: ['shared.ts'] });
        const claim = (await holderBoard.claim({ agent: 'remote' }))!;
        assert.equal(claim.task.id, running.id);
        assert.equal((await board.cancel(running.id)).status, 'cancelled');
        assert.equal((await board.cancel(queued.id)).status, 'cancelled');
        await assertLeaseLost(holderBoard.heartbeat(claim), 'cancelled');
        await assertLeaseLost(holderBoard.complete(claim), 'cancelled');
        const stats = await board.stats();
        assert.equal(stats.counts.cancelled, 2);
        assert.equal(stats.counts.pending + stats.counts.running, 0);
        await assert.rejects(board.cancel(queued.id), /already ended/);
        await assert.rejects(board.cancel('tnosuchtask'), BoardInputError);
        const next = await board.post({ title: 'after', files: ['shared.ts'] });
        assert.equal((await eventually('the file lease of the cancelled task to be free', () => board.claim({ agent: 'a' }))).task.id, next.id);
        assert.equal(await board.claim({ agent: 'a' }), undefined, 'a cancelled task is never claimed');
      });
    });

    describe('map tasks', () => {
      it('reports progress and ends the parent once every child ended: dead when a child died', async () => {
        const { board } = await kind.fresh();
        const { parent, children } = await board.map({ title: 'fix all' }, [{ title: 'a' }, { title: 'b', maxAttempts: 1 }, { title: 'c' }, { title: 'd' }]);
        assert.equal(children.length, 4);
        assert.ok(children.every((child) => child.parentId === parent.id));
        assert.equal((await board.get(parent.id))!.status, 'waiting');
        assert.equal((await board.get(parent.id))!.childCount, 4);
        const first = (await board.claim({ agent: 'x' }))!;
        assert.deepEqual(await board.progress(parent.id), { total: 4, done: 0, dead: 0, cancelled: 0, running: 1, pending: 3, percent: 0 });
        await board.complete(first, { n: 1 });
        await board.fail((await board.claim({ agent: 'x' }))!, 'nope');
        assert.equal((await board.progress(parent.id)).percent, 50);
        assert.equal((await board.stats()).parents[parent.id].dead, 1);
        await board.cancel(children[2].id);
        assert.equal((await board.get(parent.id))!.status, 'waiting');
        assert.equal((await board.progress(parent.id)).percent, 50, 'a cancelled child is work not done');
        await board.complete((await board.claim({ agent: 'x' }))!);
        const ended = (await board.get(parent.id))!;
        assert.equal(ended.status, 'dead', 'a child died, so the map did not succeed');
        assert.match(ended.lastError!.message, /1 of 4 children died \(done 2, cancelled 1\)/);
        assert.equal((await board.progress(parent.id)).percent, 75);
        const completions = (await eventTypes(board)).filter((e) => e.type === 'parent-completed');
        assert.equal(completions.length, 1);
        assert.deepEqual(completions[0].detail, { outcome: 'dead', done: 2, dead: 1, cancelled: 1, total: 4 });
        assert.deepEqual((await board.list({ status: 'dead' })).tasks.map((task) => task.id).sort(), [parent.id, children[1].id].sort(), 'in the dead-letter queue beside its child');
      });

      it('ends done when every child that was not cancelled is done, with the counts as its result', async () => {
        const { board } = await kind.fresh();
        const { parent, children } = await board.map({ title: 'p' }, [{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
        await board.cancel(children[1].id);
        await board.complete((await board.claim({ agent: 'x' }))!);
        await board.complete((await board.claim({ agent: 'x' }))!);
        const done = (await board.get(parent.id))!;
        assert.equal(done.status, 'done');
        assert.deepEqual(done.result, { done: 2, dead: 0, cancelled: 1, total: 3 });
        assert.equal((await board.progress(parent.id)).percent, 66.7);
      });

      it('a map whose children all died ends dead; requeueing it requeues its dead children, and it ends again with new counts', async () => {
        const { board } = await kind.fresh();
        const { parent } = await board.map({ title: 'all die' }, [{ title: 'a', maxAttempts: 1 }, { title: 'b', maxAttempts: 1 }]);
        await board.fail((await board.claim({ agent: 'x' }))!, 'broken');
        await board.fail((await board.claim({ agent: 'x' }))!, 'broken');
        assert.equal((await board.get(parent.id))!.status, 'dead');
        assert.equal((await board.progress(parent.id)).percent, 100, 'both children ran to an end');
        const requeued = await board.requeueAll();
        assert.equal(requeued.length, 2, 'the two children, once each');
        assert.ok(requeued.every((task) => task.status === 'pending' && task.parentId === parent.id));
        assert.equal((await board.get(parent.id))!.status, 'waiting', 'the map is open again');
        await board.complete((await board.claim({ agent: 'x' }))!);
        await board.complete((await board.claim({ agent: 'x' }))!);
        const done = (await board.get(parent.id))!;
        assert.equal(done.status, 'done');
        assert.deepEqual(done.result, { done: 2, dead: 0, cancelled: 0, total: 2 }, 'the summary is recomputed');
      });

      it('requeue of a dead map task (swarm dlq requeue MAP) requeues its dead children and returns the map', async () => {
        const { board } = await kind.fresh();
        const { parent, children } = await board.map({ title: 'p' }, [{ title: 'ok' }, { title: 'dies', maxAttempts: 1 }]);
        await board.complete((await board.claim({ agent: 'x' }))!);
        await board.fail((await board.claim({ agent: 'x' }))!, 'boom');
        const map = await board.requeue(parent.id);
        assert.equal(map.id, parent.id);
        assert.equal(map.status, 'waiting');
        assert.equal((await board.get(children[1].id))!.status, 'pending');
        assert.equal((await board.get(children[0].id))!.status, 'done', 'the done child is left alone');
        assert.equal((await board.claim({ agent: 'x' }))!.task.id, children[1].id);
      });

      it('requeueing a dead child of an ended map reopens the map, and its summary is recomputed when it ends again', async () => {
        const { board } = await kind.fresh();
        const { parent, children } = await board.map({ title: 'p' }, [{ title: 'ok' }, { title: 'flaky', maxAttempts: 1 }]);
        await board.complete((await board.claim({ agent: 'x' }))!);
        await board.fail((await board.claim({ agent: 'x' }))!, 'first try failed');
        assert.equal((await board.get(parent.id))!.status, 'dead');
        await board.requeue(children[1].id);
        assert.equal((await board.get(parent.id))!.status, 'waiting');
        assert.deepEqual(await board.progress(parent.id), { total: 2, done: 1, dead: 0, cancelled: 0, running: 0, pending: 1, percent: 50 });
        await board.complete((await board.claim({ agent: 'x' }))!);
        const ended = (await board.get(parent.id))!;
        assert.equal(ended.status, 'done');
        assert.deepEqual(ended.result, { done: 2, dead: 0, cancelled: 0, total: 2 });
        const parentEvents = (await eventTypes(board)).filter((event) => event.taskId === parent.id);
        assert.deepEqual(parentEvents.map((event) => event.type), ['posted', 'parent-completed', 'reopened', 'parent-completed']);
        assert.deepEqual(parentEvents[2].detail, { from: 'dead' });
      });

      it('a cancelled map ends cancelled and never reads 100 %; a map whose children were all cancelled ends cancelled', async () => {
        const { board } = await kind.fresh();
        const { parent } = await board.map({ title: 'p' }, [{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
        await board.complete((await board.claim({ agent: 'x' }))!);
        await board.cancel(parent.id);
        assert.equal((await board.get(parent.id))!.status, 'cancelled');
        const progress = await board.progress(parent.id);
        assert.deepEqual([progress.done, progress.cancelled, progress.percent], [1, 2, 33.3]);

        const { parent: second, children } = await board.map({ title: 'q' }, [{ title: 'a' }, { title: 'b' }]);
        for (const child of children) await board.cancel(child.id);
        assert.equal((await board.get(second.id))!.status, 'cancelled');
        assert.equal((await board.progress(second.id)).percent, 0);
        const ended = (await eventTypes(board)).find((e) => e.type === 'parent-completed' && e.taskId === second.id);
        assert.equal(ended?.detail?.outcome, 'cancelled');
      });

      it('accepts extra children while the parent waits, and refuses them afterwards', async () => {
        const { board } = await kind.fresh();
        const { parent } = await board.map({ title: 'p' }, [{ title: 'a' }]);
        await board.post({ title: 'extra', parentId: parent.id });
        assert.equal((await board.progress(parent.id)).total, 2);
        await board.complete((await board.claim({ agent: 'x' }))!);
        assert.equal((await board.get(parent.id))!.status, 'waiting');
        await board.complete((await board.claim({ agent: 'x' }))!);
        assert.equal((await board.get(parent.id))!.status, 'done');
        await assert.rejects(board.post({ title: 'late', parentId: parent.id }), /still waiting/);
        await assert.rejects(board.map({ title: 'nested', parentId: parent.id }, [{ title: 'c' }]), /cannot itself be the child/);
      });

      it('cancelling a map parent cancels its children, the running one and those added later too, and refuses new ones', async () => {
        const { board } = await kind.fresh();
        const { parent } = await board.map({ title: 'p' }, [{ title: 'a' }, { title: 'b' }]);
        const added = await board.post({ title: 'added', parentId: parent.id, priority: 5 });
        const running = (await board.claim({ agent: 'x' }))!;
        assert.equal(running.task.id, added.id);
        await board.cancel(parent.id);
        assert.equal((await board.stats()).counts.cancelled, 4);
        assert.equal((await board.get(added.id))!.status, 'cancelled');
        await assertLeaseLost(board.heartbeat(running), 'cancelled');
        await assert.rejects(board.post({ title: 'late', parentId: parent.id }), /cancelled/);
        await assert.rejects(board.requeue(added.id), /only dead tasks/);
        assert.equal(await board.claim({ agent: 'x' }), undefined, 'nothing of the map runs');
      });

      it('a dead child of a cancelled map cannot be requeued into a map that no longer runs', async () => {
        const warnings: string[] = [];
        const { board } = await kind.fresh({ onWarning: (warning) => warnings.push(warning) });
        const { parent, children } = await board.map({ title: 'p' }, [{ title: 'dies', maxAttempts: 1 }, { title: 'waits' }]);
        await board.fail((await board.claim({ agent: 'x' }))!, 'boom');
        await board.cancel(parent.id);
        await assert.rejects(board.requeue(children[0].id), (error: Error) => error instanceof BoardInputError && /was cancelled; post the task again/.test(error.message));
        assert.equal((await board.get(children[0].id))!.status, 'dead', 'nothing changed');
        assert.deepEqual(await board.requeueAll(), [], 'requeueAll leaves it in the dead-letter queue');
        assert.ok(warnings.some((warning) => warning.includes(children[0].id) && /stays in the dead-letter queue/.test(warning)), JSON.stringify(warnings));
      });
    });

    describe('file-scope leases', () => {
      it('never runs two tasks with overlapping files at once, and records the wait', async () => {
        const { board, another } = await kind.fresh();
        const other = await another();
        const first = await board.post({ title: 'first', files: ['src/a.ts', 'src/b.ts'], priority: 2 });
        const overlapping = await board.post({ title: 'overlaps', files: ['src/b.ts'], priority: 1 });
        const independent = await board.post({ title: 'independent', files: ['src/c.ts'] });
        const claimFirst = (await board.claim({ agent: 'a' }))!;
        assert.equal(claimFirst.task.id, first.id);
        assert.equal((await other.claim({ agent: 'b' }))!.task.id, independent.id, 'the overlapping task is skipped');
        assert.equal(await other.claim({ agent: 'c' }), undefined);
        const conflicts = (await eventTypes(board)).filter((e) => e.type === 'conflict');
        assert.equal(conflicts.length, 1);
        assert.equal(conflicts[0].taskId, overlapping.id);
        assert.equal(conflicts[0].detail!.waitingFor, first.id);
        assert.equal((await board.get(overlapping.id))!.status, 'pending');
        assert.equal((await board.get(overlapping.id))!.attempts, 0, 'a wait is not an attempt');
        await board.complete(claimFirst);
        const next = await eventually('the overlapping task', () => other.claim({ agent: 'c' }), 10_000);
        assert.equal(next.task.id, overlapping.id);
        assert.equal(next.task.attempts, 1);
      });

      it('frees the files of a holder whose lease expired', async () => {
        const { board } = await kind.fresh();
        await board.post({ title: 'crashes', files: ['x.ts'], maxAttempts: 1 });
        await board.claim({ agent: 'a', leaseMs: 200 });
        const next = await board.post({ title: 'next', files: ['x.ts'] });
        const claim = await claimEventually(board, 'b');
        assert.equal(claim.task.id, next.id);
      });
    });

    describe('file-scope leases of a holder whose lease ran out', () => {
      // No sweep runs here (the interval is an hour): a holder whose lease lapsed is still the
      // holder until it ends or a sweep reclaims it, and keeps its files as long.
      const noSweeps = { sweepIntervalMs: 3_600_000 };

      it('keeps its files until it ends: an overlapping task waits, then runs, and a third never runs beside it', async () => {
        const { board } = await kind.fresh(noSweeps);
        const first = await board.post({ title: 'first', files: ['x.ts'], priority: 3 });
        const second = await board.post({ title: 'second', files: ['x.ts', 'y.ts'], priority: 2 });
        const third = await board.post({ title: 'third', files: ['y.ts', 'x.ts'], priority: 1 });
        const holder = (await board.claim({ agent: 'a', leaseMs: 200 }))!;
        assert.equal(holder.task.id, first.id);
        await eventually('the first lease to run out', async () => Date.now() > holder.leaseExpiresAt + 300);
        assert.equal(await board.claim({ agent: 'b', leaseMs: 200 }), undefined, 'x.ts stays with a holder that may still heartbeat');
        await board.heartbeat(holder, 200);
        await eventually('the renewed lease to run out', async () => Date.now() > holder.leaseExpiresAt + 300);
        assert.equal(await board.claim({ agent: 'b', leaseMs: 200 }), undefined, 'and after its heartbeat too');
        assert.equal((await board.complete(holder, { late: 'but fine' })).status, 'done');
        const next = await eventually('the second task', () => board.claim({ agent: 'b', leaseMs: 200 }), 10_000);
        assert.equal(next.task.id, second.id);
        await eventually('the second lease to run out', async () => Date.now() > next.leaseExpiresAt + 300);
        assert.equal(await board.claim({ agent: 'c', leaseMs: 200 }), undefined, 'the third task waits for the second');
        await board.heartbeat(next, 200);
        assert.equal((await board.complete(next)).status, 'done');
        const last = await eventually('the third task', () => board.claim({ agent: 'c' }), 10_000);
        assert.equal(last.task.id, third.id);
        assert.deepEqual(await board.errors(first.id), [], 'nothing was reclaimed');
        assert.deepEqual(await board.errors(second.id), []);
      });

      it('a late holder cannot take back, renew or free files that went to another task after its reclaim', async () => {
        const { board } = await kind.fresh(noSweeps);
        const first = await board.post({ title: 'first', files: ['x.ts'], priority: 3, maxAttempts: 1 });
        const second = await board.post({ title: 'second', files: ['x.ts'], priority: 2 });
        const third = await board.post({ title: 'third', files: ['x.ts'], priority: 1 });
        const stale = (await board.claim({ agent: 'a', leaseMs: 200 }))!;
        assert.equal(stale.task.id, first.id);
        const next = await claimEventually(board, 'b');
        assert.equal(next.task.id, second.id);
        assert.equal((await board.get(first.id))!.status, 'dead', 'reclaimed with its attempts used up');
        await assertLeaseLost(board.heartbeat(stale, 30_000), 'reclaimed');
        await assertLeaseLost(board.complete(stale), 'reclaimed');
        await assertLeaseLost(board.release(stale), 'reclaimed');
        assert.equal(await board.claim({ agent: 'c' }), undefined, 'x.ts is still the second task\'s');
        await board.complete(next);
        const last = await eventually('the third task', () => board.claim({ agent: 'c' }), 10_000);
        assert.equal(last.task.id, third.id);
      });
    });

    describe('events', () => {
      it('records every state change, readable in pages from a cursor', async () => {
        const { board } = await kind.fresh();
        const task = await board.post({ title: 't' });
        await board.complete((await board.claim({ agent: 'a' }))!);
        const first = await board.readEvents(EVENTS_START);
        assert.deepEqual(first.events.map((e) => `${e.type}:${e.taskId === task.id}`), ['posted:true', 'claimed:true', 'completed:true']);
        assert.equal(first.events[1].agent, 'a');
        assert.equal(first.events[1].attempt, 1);
        assert.ok(first.events.every((e) => typeof e.at === 'number' && typeof e.pid === 'number'));
        const other = await board.post({ title: 'u' });
        await board.cancel(other.id);
        const rest = await board.readEvents(first.cursor);
        assert.deepEqual(rest.events.map((e) => e.type), ['posted', 'cancelled']);
        assert.deepEqual((await board.readEvents(rest.cursor)).events, []);
        await assert.rejects(board.readEvents('not a cursor'), BoardInputError);
      });

      it('follows live events and resumes from a stored cursor after the reader restarts', async () => {
        const { board, another } = await kind.fresh();
        const writer = await another();
        await writer.post({ title: 'before' });
        const seen: BoardEvent[] = [];
        let cursor = '';
        const onEvents = (batch: EventBatch): void => {
          seen.push(...batch.events);
          cursor = batch.cursor;
        };
        const live = board.follow(onEvents, { pollMs: 50 });
        await pause(300);
        await writer.post({ title: 'live 1' });
        await eventually('the live event', async () => seen.some((e) => e.detail?.title === 'live 1'), 10_000);
        assert.ok(!seen.some((e) => e.detail?.title === 'before'), 'without a cursor only new events arrive');
        await live.dispose();
        await writer.postMany([{ title: 'while away 1' }, { title: 'while away 2' }]);
        const resumed = board.follow(onEvents, { cursor, pollMs: 50 });
        await writer.post({ title: 'live 2' });
        await eventually('the resumed events', async () => seen.some((e) => e.detail?.title === 'live 2'), 10_000);
        await resumed.dispose();
        assert.deepEqual(seen.map((e) => e.detail?.title), ['live 1', 'while away 1', 'while away 2', 'live 2']);
        const replay: BoardEvent[] = [];
        const fromStart = board.follow((batch) => replay.push(...batch.events), { cursor: EVENTS_START, pollMs: 50 });
        await eventually('the replay', async () => replay.length >= 5, 10_000);
        await fromStart.dispose();
        assert.equal(replay[0].detail?.title, 'before');
      });

      it('without a cursor, follows every event committed after follow() returned, also in its first milliseconds', async () => {
        const { board } = await kind.fresh();
        await board.post({ title: 'old' });
        const seen: BoardEvent[] = [];
        const following = board.follow((batch) => seen.push(...batch.events), { pollMs: 50 });
        await board.post({ title: 'at once' });
        await eventually('the event posted at once', async () => seen.some((e) => e.detail?.title === 'at once'), 10_000);
        await following.dispose();
        assert.deepEqual(seen.map((e) => e.detail?.title), ['at once']);
      });
    });

    describe('side effects that fail after the commit', () => {
      it('a post whose after-commit effect fails still happens, says so in warnings, throws nothing, and is repaired', async () => {
        const warnings: string[] = [];
        const { board, another } = await kind.fresh({ onWarning: (warning) => warnings.push(warning) });
        const other = await another();
        const undo = await kind.breakAfterCommit(board);
        const posted = await board.post({ title: 'posted anyway' });
        assert.ok(posted.warnings && posted.warnings.length > 0, 'the returned task carries a warning');
        assert.ok(posted.warnings!.every((warning) => warning.includes(posted.id) && !warning.includes('\n')), JSON.stringify(posted.warnings));
        assert.deepEqual(warnings, posted.warnings, 'and the warning sink of the board heard it');
        const { parent } = await board.map({ title: 'map anyway' }, [{ title: 'child' }]);
        assert.ok(parent.warnings && parent.warnings.length > 0);
        await undo();
        assert.equal((await other.get(posted.id))!.status, 'pending', 'the post happened');
        const claimed = new Set<string>();
        await eventually('both tasks to be claimable from another handle', async () => {
          await other.reclaimExpired();
          const claim = await other.claim({ agent: 'b' });
          if (claim) claimed.add(claim.task.id);
          return claimed.size === 2;
        });
        assert.ok(claimed.has(posted.id));
        await eventually('one posted event per task', async () => {
          await other.reclaimExpired();
          const posts = (await eventTypes(other)).filter((e) => e.type === 'posted' && e.taskId === posted.id);
          return posts.length === 1;
        });
      });
    });

    describe('stats', () => {
      it('counts tasks per status, and the pending ones that are not claimable yet', async () => {
        const { board } = await kind.fresh({ retry: { baseMs: 60_000, capMs: 60_000, jitter: 0 } });
        await board.post({ title: 'now' });
        await board.post({ title: 'later', notBefore: Date.now() + 60_000 });
        await board.post({ title: 'retried', priority: 1 });
        await board.fail((await board.claim({ agent: 'a' }))!, 'flaky');
        const stats = await board.stats();
        assert.equal(stats.counts.pending, 3);
        assert.equal(stats.delayed, 2, 'the later task and the retry wait');
        assert.equal(stats.quarantined, 0);
        await board.claim({ agent: 'a' });
        const after = await board.stats();
        assert.deepEqual([after.counts.pending, after.counts.running, after.delayed], [2, 1, 2]);
      });

      it('a retry whose backoff is over counts as claimable, not delayed, before any claim promotes it', async () => {
        // A pool that scaled down to no agents starts one only for tasks it sees as claimable.
        const { board } = await kind.fresh({ retry: { baseMs: 50, capMs: 50, jitter: 0 } });
        await board.post({ title: 'retried' });
        await board.fail((await board.claim({ agent: 'a' }))!, 'flaky');
        await eventually('the backoff to be over', async () => (await board.stats()).delayed === 0);
        assert.equal((await board.stats()).counts.pending, 1);
      });
    });

    describe('hosts', () => {
      it('a host record is listed while renewed, as gone once it expires, and not after it is removed', async () => {
        const { board } = await kind.fresh();
        await board.putHost('build-1-42', { hostPid: 42, note: 'first' }, 60_000);
        await board.putHost('build-2-7', { hostPid: 7 }, 150);
        const listed = await board.listHosts();
        assert.deepEqual(listed.map((entry) => [entry.id, entry.gone]), [['build-1-42', false], ['build-2-7', false]]);
        assert.equal((listed[0].status as { note?: string }).note, 'first');
        await eventually('the short record to expire', async () => (await board.listHosts()).find((entry) => entry.id === 'build-2-7')?.gone === true);
        assert.equal((await board.listHosts()).find((entry) => entry.id === 'build-1-42')?.gone, false, 'a renewed host stays live');
        await board.removeHost('build-1-42');
        assert.deepEqual((await board.listHosts()).map((entry) => entry.id), ['build-2-7']);
        await assert.rejects(board.putHost('../escape', {}, 1_000), /not a host id/);
      });
    });

    describe('reading', () => {
      it('lists in pages, oldest first, with a status filter and totals', async () => {
        const { board } = await kind.fresh();
        const posted = await board.postMany(Array.from({ length: 25 }, (_, i) => ({ title: `t${i}` })));
        for (let i = 0; i < 5; i++) await board.complete((await board.claim({ agent: 'a' }))!);
        const ids: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const result = await board.list({ limit: 10, cursor });
          assert.equal(result.total, 25);
          ids.push(...result.tasks.map((task) => task.id));
          cursor = result.nextCursor;
          if (!cursor) break;
        }
        assert.deepEqual(ids, posted.map((task) => task.id));
        const offsetPage = await board.list({ offset: 20, limit: 10 });
        assert.deepEqual(offsetPage.tasks.map((task) => task.id), ids.slice(20));
        assert.equal(offsetPage.nextCursor, undefined);
        const done = await board.list({ status: 'done' });
        assert.equal(done.total, 5);
        assert.ok(done.tasks.every((task) => task.status === 'done'));
        assert.equal((await board.list({ status: 'pending', limit: 3 })).total, 20);
        await assert.rejects(board.list({ cursor: 'garbage' }), BoardInputError);
        await assert.rejects(board.list({ limit: 0 }), BoardInputError);
        const stats = await board.stats();
        assert.equal(stats.counts.done, 5);
        assert.equal(stats.counts.pending, 20);
      });

      it('stores artifacts up to the size cap and refuses larger ones with a clear error', async () => {
        const { board } = await kind.fresh({ artifactCapBytes: 1_000 });
        const task = await board.post({ title: 't' });
        await board.putArtifact(task.id, 'result.patch', 'diff --git a/x b/x\n');
        await board.putArtifact(task.id, 'log.txt', Buffer.from([0, 1, 2, 255]));
        assert.equal((await board.getArtifact(task.id, 'result.patch'))!.toString(), 'diff --git a/x b/x\n');
        assert.deepEqual([...(await board.getArtifact(task.id, 'log.txt'))!], [0, 1, 2, 255]);
        assert.equal(await board.getArtifact(task.id, 'missing.txt'), undefined);
        assert.deepEqual(await board.listArtifacts(task.id), [{ name: 'log.txt', bytes: 4 }, { name: 'result.patch', bytes: 19 }]);
        await assert.rejects(board.putArtifact(task.id, 'big.log', 'x'.repeat(1_001)), (e: Error) => e instanceof BoardInputError && /over the board's limit of 1000 B/.test(e.message));
        await assert.rejects(board.putArtifact(task.id, '../escape', 'x'), BoardInputError);
        assert.deepEqual((await board.listArtifacts(task.id)).map((a) => a.name), ['log.txt', 'result.patch'], 'the refused artifacts left nothing');
      });
    });
  });
}
