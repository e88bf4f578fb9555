// The worker thread of a file board opened with `thread: 'worker'` (see fileBoard.ts): it holds
// the synchronous engine and runs the calls the owning thread sends, one at a time, in the order
// they were sent. Bundled as dist/boardWorker.js.
import { parentPort, workerData } from 'worker_threads';
import { FileBoardCalls, type FileBoardSettings, type FileCallName } from './fileCalls';
import { toWire } from './wire';
import type { WorkerReply, WorkerRequest } from './fileBoard';

function serve(): void {
  const port = parentPort;
  // A bug: only FileBoard starts this file, always as a worker thread.
  if (!port) throw new Error('fileWorker.ts runs only as a worker thread.');
  const settings = workerData as FileBoardSettings;
  let calls: FileBoardCalls;
  try {
    calls = FileBoardCalls.open({ ...settings, onWarning: (text) => port.postMessage({ type: 'warning', text } satisfies WorkerReply) });
  } catch (error) {
    port.postMessage({ type: 'open-failed', error: toWire(error) } satisfies WorkerReply);
    return;
  }
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
  port.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      const method = calls[request.name as FileCallName] as (...args: unknown[]) => unknown;
      // A bug: the board's own client sends only names of FileBoardCalls.
      if (typeof method !== 'function') throw new Error(`The file board has no operation "${String(request.name)}".`);
      reply = { type: 'result', id: request.id, value: method.apply(calls, request.args) };
    } catch (error) {
      reply = { type: 'error', id: request.id, error: toWire(error) };
    }
    port.postMessage(reply);
  });
}

serve();
