// Errors across the thread boundary of a file board running in a worker. Structured cloning keeps
// only an Error's message, so the board's own error classes (callers match them with instanceof)
// and the file-system details the CLI turns into advice (code, syscall, path) travel as plain
// fields and are rebuilt on the other side.
import { BoardFormatError, BoardInUseError } from './board';
import { BoardInputError, LeaseLostError, type LeaseLossCause } from './types';
import { BoardUnavailableError, type BoardUnavailableProblem } from './interface';

export interface WireError {
  kind: 'input' | 'lease-lost' | 'format' | 'in-use' | 'unavailable' | 'plain';
  name: string;
  message: string;
  stack?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  taskId?: string;
  cause?: LeaseLossCause;
  problem?: BoardUnavailableProblem;
}

export function toWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { kind: 'plain', name: 'Error', message: String(error) };
  const base = { name: error.name, message: error.message, stack: error.stack };
  if (error instanceof LeaseLostError) return { ...base, kind: 'lease-lost', taskId: error.taskId, cause: error.cause };
  if (error instanceof BoardInputError) return { ...base, kind: 'input' };
  if (error instanceof BoardInUseError) return { ...base, kind: 'in-use' };
  if (error instanceof BoardFormatError) return { ...base, kind: 'format' };
  if (error instanceof BoardUnavailableError) return { ...base, kind: 'unavailable', problem: error.problem };
  const { code, errno, syscall, path } = error as NodeJS.ErrnoException;
  return {
    ...base,
    kind: 'plain',
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof errno === 'number' ? { errno } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
    ...(typeof path === 'string' ? { path } : {}),
  };
}

export function fromWire(wire: WireError): Error {
  const error = rebuild(wire);
  // The worker's stack says where the board failed; the caller's own stack is added by the await.
  if (wire.stack) error.stack = wire.stack;
  return error;
}

function rebuild(wire: WireError): Error {
  switch (wire.kind) {
    case 'lease-lost':
      return new LeaseLostError(wire.taskId ?? '', wire.message, wire.cause ?? 'ended');
    case 'input':
      return new BoardInputError(wire.message);
    case 'format':
      return new BoardFormatError(wire.message);
    case 'in-use':
      return new BoardInUseError(wire.message);
    case 'unavailable':
      return new BoardUnavailableError(wire.problem ?? 'connection-lost', wire.message);
    default: {
      const error = new Error(wire.message) as NodeJS.ErrnoException;
      error.name = wire.name;
      if (wire.code !== undefined) error.code = wire.code;
      if (wire.errno !== undefined) error.errno = wire.errno;
      if (wire.syscall !== undefined) error.syscall = wire.syscall;
      if (wire.path !== undefined) error.path = wire.path;
      return error;
    }
  }
}
