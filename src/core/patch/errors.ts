// Why a task's result cannot be applied, undone, discarded, shown or followed up as asked: a
// person's to act on (a SwarmUserError), so hosts show the message instead of reporting a bug.
import { SwarmUserError } from '../errors';

export class ResultActionError extends SwarmUserError {
  /**
   * `input`: no such task or nothing to act on; `refused`: the result or the files forbid it;
   * `environment`: the machine is in the way (a full disk while saving files for undo).
   */
  constructor(kind: 'input' | 'refused' | 'environment', message: string, options?: ErrorOptions) {
    super(kind, message, options);
    this.name = 'ResultActionError';
  }
}

/** An apply or undo record on disk that Agent Swarm did not write this way; `next` says what to do. */
export class RecordDamagedError extends SwarmUserError {
  constructor(what: string, file: string, why: string, next: string) {
    super('environment', `The ${what} (${file}) is damaged: ${why}. ${next}`);
    this.name = 'RecordDamagedError';
  }
}
