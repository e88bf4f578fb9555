// The one base class of errors a person must act on (bad input, a configuration to fix, a machine in
// the way), as opposed to bugs. Hosts decide by `kind`, never by matching message text: the CLI
// prints one line and picks the exit code, the MCP server returns a tool error, the extension shows
// the message instead of logging a bug. Messages say what happened and what to do next, in words
// that fit every host: they never name a VS Code setting (the extension adds that hint).

/**
 * What the person has to do about it:
 * - `input`: fix what they typed or posted (a bad spec, an unknown id, a wrong state);
 * - `config`: fix a configuration (a config file, a board address, a password, an executor choice);
 * - `environment`: fix the machine (a full disk, no git repository, no sandbox, a damaged record);
 * - `unavailable`: a service dropped mid-operation; trying again may help;
 * - `lease-lost`: the caller no longer holds the task it acted on;
 * - `refused`: the operation was refused as unsafe or unusable (a patch writing outside the workspace).
 */
export const USER_ERROR_KINDS = ['input', 'config', 'environment', 'unavailable', 'lease-lost', 'refused'] as const;
export type UserErrorKind = (typeof USER_ERROR_KINDS)[number];

export abstract class SwarmUserError extends Error {
  constructor(
    readonly kind: UserErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isSwarmUserError(error: unknown): error is SwarmUserError {
  return error instanceof SwarmUserError;
}
