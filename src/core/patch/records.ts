// The apply and undo records kept in a task's artifacts folder are read back as untrusted input:
// anything that can write into the board (a hand edit, a repository shipping a `.swarm` folder)
// could otherwise make `swarm undo` restore files from, or write to, wherever the record says.
// Their shape is checked here; the paths in them go through the one path safety check.
import type { ApplyStatus, UndoEntry, UndoRecord } from './apply';
import { RecordDamagedError } from './errors';

export interface ApplyRecord {
  status: ApplyStatus;
  at: number;
  undoId: string;
  files: string[];
  /** The partial work of a task that did not finish was applied, not a result. */
  partial?: true;
}

export { RecordDamagedError };

const STATUSES = new Set<string>(['applied', 'applied-3way', 'conflict', 'already-applied']);
/** Record ids are file names inside the artifacts folder: no separators, no dots. */
const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** Saved copies beside a record made before single-file records. */
const BLOB_NAME = /^before-\d{1,6}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MODES = new Set(['100644', '100755', '120000']);
const AFTER_HASH = /^(?:absent|[0-9a-f]{64}|)$/;

export function parseApplyRecord(bytes: Buffer | undefined, file: string, taskId: string): ApplyRecord {
  const damaged = (why: string) =>
    new RecordDamagedError(`apply record of task ${taskId}`, file, why, `Nothing was changed. Move the file away to forget that apply (your files stay as they are); \`swarm undo ${taskId}\` is then no longer possible.`);
  const value = parseJson(bytes, damaged);
  if (!isRecord(value)) throw damaged('it is not a JSON object');
  if (!STATUSES.has(value.status as string)) throw damaged('its status is not one Agent Swarm writes');
  if (!Number.isFinite(value.at)) throw damaged('its time is not a number');
  if (typeof value.undoId !== 'string' || !RECORD_ID.test(value.undoId)) throw damaged('its undo id is not a plain name');
  if (!Array.isArray(value.files) || !value.files.every((entry) => typeof entry === 'string')) throw damaged('its file list is not a list of paths');
  const record: ApplyRecord = { status: value.status as ApplyStatus, at: value.at as number, undoId: value.undoId, files: value.files as string[] };
  if (value.partial === true) record.partial = true;
  return record;
}

export function parseUndoRecord(bytes: Buffer | undefined, file: string): UndoRecord {
  const damaged = (why: string) => new RecordDamagedError('undo record', file, why, 'Nothing was restored; restore the files by hand (the saved copies are beside the record).');
  const value = parseJson(bytes, damaged);
  if (!isRecord(value)) throw damaged('it is not a JSON object');
  if (typeof value.id !== 'string' || !RECORD_ID.test(value.id)) throw damaged('its id is not a plain name');
  if (!STATUSES.has(value.status as string)) throw damaged('its status is not one Agent Swarm writes');
  if (!Array.isArray(value.entries)) throw damaged('it has no list of entries');
  const entries = value.entries.map((entry, index) => parseUndoEntry(entry, (why) => damaged(`entry ${index + 1} ${why}`)));
  const record: UndoRecord = { id: value.id, at: Number(value.at) || 0, status: value.status as ApplyStatus, entries };
  // The apply-record fields of a record that is also apply.json, kept when they have their shape.
  if (value.undoId === value.id) record.undoId = value.id;
  if (Array.isArray(value.files) && value.files.every((entry) => typeof entry === 'string')) record.files = value.files as string[];
  if (value.partial === true) record.partial = true;
  return record;
}

function parseUndoEntry(value: unknown, damaged: (why: string) => Error): UndoEntry {
  if (!isRecord(value)) throw damaged('is not a JSON object');
  if (typeof value.path !== 'string') throw damaged('has no path');
  if (typeof value.afterHash !== 'string' || !AFTER_HASH.test(value.afterHash)) throw damaged('has no valid hash of the applied file');
  const entry: UndoEntry = { path: value.path, afterHash: value.afterHash };
  if (value.before !== undefined) {
    const before = value.before;
    if (!isRecord(before)) throw damaged('has no valid saved copy');
    if (typeof before.mode !== 'string' || !MODES.has(before.mode)) throw damaged('has a file mode Agent Swarm never saves');
    if (typeof before.data === 'string' && BASE64.test(before.data)) entry.before = { mode: before.mode, data: before.data };
    else if (typeof before.blob === 'string' && BLOB_NAME.test(before.blob)) entry.before = { mode: before.mode, blob: before.blob };
    else throw damaged('names no saved copy, or one outside its folder');
  }
  return entry;
}

function parseJson(bytes: Buffer | undefined, damaged: (why: string) => Error): unknown {
  if (bytes === undefined) throw damaged('it is not a plain file');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw damaged('it is not valid JSON');
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
