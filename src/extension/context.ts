// `setContext` only when a value changes (menus and `when` clauses read these keys).
import * as vscode from 'vscode';

const current = new Map<string, unknown>();

export function setContext(key: string, value: unknown): Thenable<unknown> | undefined {
  if (current.get(key) === value) return undefined;
  current.set(key, value);
  return vscode.commands.executeCommand('setContext', key, value);
}
