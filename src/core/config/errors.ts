// A configuration that names something that is not there: the person's to fix in swarm.config.json
// (or whatever layer named it), so hosts show the message instead of a bug report.
import { SwarmUserError } from '../errors';

export class ConfigError extends SwarmUserError {
  constructor(message: string) {
    super('config', message);
    this.name = 'ConfigError';
  }
}
