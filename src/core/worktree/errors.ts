// Why an agent slot could not be made, used or read back: the person's to act on (a configuration
// to fix, a machine or repository in the way), so hosts show the message instead of a bug report.
import { SwarmUserError } from '../errors';

export class WorktreeError extends SwarmUserError {
  /**
   * `config`: fix swarm.config.json (a worktrees folder inside the checkout, a failing setup
   * command); `environment`: something on the machine is in the way (a slot locked by another
   * process, a slot record removed mid-attempt); `refused`: a slot was changed so that the host's
   * own git would no longer be safe to run in it.
   */
  constructor(kind: 'config' | 'environment' | 'refused', message: string, options?: ErrorOptions) {
    super(kind, message, options);
    this.name = 'WorktreeError';
  }
}
