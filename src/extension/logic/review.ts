// Pure helpers of the review surface (no vscode): how result documents are addressed, the words
// and figures shown in the "Review Results" quick pick and the apply/conflict messages.
import { plural } from '../../core/format';
import type { PatchFileEntry } from '../../core/patch';

export type ResultSide = 'original' | 'result';

/** What a `swarm-result:` document shows: one side of one file of one task's result. */
export interface ResultAddress {
  taskId: string;
  side: ResultSide;
  /** Workspace-relative path, '/'-separated. */
  path: string;
}

/**
 * The path and query of a result document's URI. The path is the file's own path (so the editor
 * shows its name and picks its language); the task and side live in the query.
 */
export function resultUriParts(address: ResultAddress): { path: string; query: string } {
  const query = new URLSearchParams({ task: address.taskId, side: address.side }).toString();
  return { path: `/${address.path.replace(/^\/+/, '')}`, query };
}

/** The inverse of `resultUriParts`; undefined for a URI that is not a result document. */
export function parseResultUri(uriPath: string, query: string): ResultAddress | undefined {
  const params = new URLSearchParams(query);
  const taskId = params.get('task');
  const side = params.get('side');
  if (!taskId || (side !== 'original' && side !== 'result')) return undefined;
  const relative = uriPath.replace(/^\/+/, '');
  if (!relative) return undefined;
  return { taskId, side, path: relative };
}

export interface PatchStats {
  files: number;
  additions: number;
  deletions: number;
}

export function patchStats(files: readonly PatchFileEntry[]): PatchStats {
  return {
    files: files.length,
    additions: files.reduce((sum, file) => sum + file.additions, 0),
    deletions: files.reduce((sum, file) => sum + file.deletions, 0),
  };
}

/** "+12 −3 in 2 files" */
export function formatStats(stats: PatchStats): string {
  return `+${stats.additions} −${stats.deletions} in ${plural(stats.files, 'file')}`;
}

/** A file as listed in the quick pick: "src/a.ts (+3 −1)", with the rename or status when it matters. */
export function formatFileEntry(file: PatchFileEntry): string {
  const name = file.status === 'renamed' && file.from ? `${file.from} → ${file.path}` : file.path;
  const status = file.status === 'added' ? 'new, ' : file.status === 'deleted' ? 'deleted, ' : '';
  return file.binary ? `${name} (${status}binary)` : `${name} (${status}+${file.additions} −${file.deletions})`;
}

export interface ResultPickItem {
  taskId: string;
  label: string;
  description: string;
  detail: string;
}

/** One quick-pick entry per unapplied result: title, stats, and the files it changes. */
export function resultPickItem(task: { id: string; title: string }, files: readonly PatchFileEntry[], maxFiles = 4): ResultPickItem {
  const shown = files.slice(0, maxFiles).map(formatFileEntry);
  const hidden = files.length - shown.length;
  return {
    taskId: task.id,
    label: task.title,
    description: formatStats(patchStats(files)),
    detail: hidden > 0 ? `${shown.join(', ')} and ${hidden} more` : shown.join(', '),
  };
}

/** Most recent results first (by the task's last update, i.e. when it finished), then by title. */
export function sortResults<T extends { updatedAt: number; title: string }>(tasks: readonly T[]): T[] {
  return [...tasks].sort((a, b) => b.updatedAt - a.updatedAt || a.title.localeCompare(b.title));
}

/** The diff editor's title for a task's result. */
export function reviewTitle(task: { title: string }, files: readonly PatchFileEntry[]): string {
  const stats = patchStats(files);
  // The multi-file diff editor adds "(N files)" to its title itself.
  const figures = files.length > 1 ? `+${stats.additions} −${stats.deletions}` : formatStats(stats);
  return `Swarm result: ${task.title} (${figures})`;
}

/** Text shown in place of a binary file in the diff editor. */
export function binaryNote(relPath: string, side: ResultSide, exists: boolean): string {
  if (!exists) return `${relPath}: no file on this side (${side === 'original' ? 'the task adds it' : 'the task deletes it'}).\n`;
  const which = side === 'original' ? 'as the agent started from it' : "as the task's result has it";
  return `${relPath} is a binary file (shown here ${which}).\nThe diff editor shows text only; Apply writes the binary file as it is.\n`;
}

/** Results that overlap the given one: "src/a.ts (also changed by "Other task")". */
export function overlapWarning(taskTitle: string, overlaps: Array<{ title: string; files: string[] }>): string | undefined {
  if (overlaps.length === 0) return undefined;
  const parts = overlaps.map((overlap) => `"${overlap.title}" (${overlap.files.join(', ')})`);
  return `"${taskTitle}" changes the same lines as ${parts.length === 1 ? 'another unapplied result' : 'other unapplied results'}: ${parts.join('; ')}. After this apply, ${parts.length === 1 ? 'that result' : 'those results'} will need a three-way merge or will conflict.`;
}

/** Why an apply was refused, per file, and what the user can do. */
export function conflictMessage(taskTitle: string, conflicts: Array<{ path: string; reason?: string }>): string {
  const files = conflicts.map((conflict) => (conflict.reason ? `${conflict.path} (${conflict.reason})` : conflict.path)).join('; ');
  return `"${taskTitle}" was not applied: ${plural(conflicts.length, 'file')} conflict with your changes: ${files}. Nothing was written. Open them with conflict markers to resolve in the editor, or edit the files and apply again.`;
}

export { followUpPrompt, followUpTitle } from '../../core/patch/followUp';
