// The extension's posts (Post Task, Fix with Swarm, the chat): the same core path as `swarm post`
// and the MCP server (core/remote/post.ts), so on a shared board every task carries the snapshot of
// this workspace and the two can never drift.
import * as vscode from 'vscode';
import type { Task, TaskSpec } from '../core/board/types';
import type { Board } from '../core/board/interface';
import { postMap, postTasks, type PostPlace } from '../core/remote/post';

export interface EditorPoster {
  board: Board;
  workspaceRoot: string | undefined;
  log: vscode.LogOutputChannel;
}

function placeOf(poster: EditorPoster): PostPlace {
  return {
    board: poster.board,
    workspaceRoot: poster.workspaceRoot,
    // What stayed on this machine (or that nothing travels) matters before the runners start.
    note: (line) => {
      poster.log.info(line);
      void vscode.window.showInformationMessage(line);
    },
  };
}

/** Posts one task from the editor. */
export async function postFromEditor(poster: EditorPoster, spec: TaskSpec): Promise<Task> {
  const [task] = await postTasks(placeOf(poster), [spec]);
  return task;
}

/** Posts a map task from the editor; its children carry the snapshot. */
export function mapFromEditor(poster: EditorPoster, parent: TaskSpec, children: TaskSpec[]): Promise<{ parent: Task; children: Task[] }> {
  return postMap(placeOf(poster), parent, children);
}
