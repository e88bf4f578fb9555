// Exit codes that still mean "the command did its work". Linters and formatters that fix files exit
// non-zero when problems remain that they cannot fix, after writing the fixes they could: for them
// exit 1 (or 2) is a result, not a failure. Each preset names the codes its tool documents for
// "finished, problems left" and leaves out the ones for "could not run" (bad config, crash).
import * as path from 'node:path';

export const OK_EXIT_CODE_PRESETS = {
  /** eslint: 1 = problems left after --fix; 2 = configuration error or crash. */
  eslint: [1],
  /** prettier: 1 = --check / --list-different found unformatted files; 2 = error. */
  prettier: [1],
  /** ruff check --fix: 1 = violations left; 2 = error. */
  ruff: [1],
  /** biome check --write / lint --write: 1 = diagnostics left. */
  biome: [1],
  /** stylelint --fix: 2 = problems left; 1 = fatal error; 78 = invalid configuration. */
  stylelint: [2],
  /** rubocop -a: 1 = offenses left; 2 = error. */
  rubocop: [1],
  /** markdownlint --fix (markdownlint-cli): 1 = problems left; 2 = unable to write. */
  markdownlint: [1],
} as const satisfies Record<string, readonly number[]>;

export type OkExitCodePreset = keyof typeof OK_EXIT_CODE_PRESETS;
export const OK_EXIT_CODE_PRESET_NAMES = Object.keys(OK_EXIT_CODE_PRESETS) as OkExitCodePreset[];

/** The codes of a setting: a list as given, or a preset's. */
export function okExitCodesOf(setting: readonly number[] | OkExitCodePreset): readonly number[] {
  return typeof setting === 'string' ? OK_EXIT_CODE_PRESETS[setting] : setting;
}

/** Wrappers that run the program named after them (`npx eslint`, `pnpm exec ruff`, `uv run ruff`). */
const RUNNERS = new Set(['npx', 'pnpx', 'bunx', 'exec', 'run', 'dlx', 'pnpm', 'yarn', 'npm', 'uv', 'uvx', 'poetry', 'pipx', 'bundle', 'env', 'node', 'python', 'python3', '-m']);

/**
 * The preset for the tool a template runs, when it runs one of them: `eslint --fix {files}`,
 * `npx eslint ...`, `node node_modules/eslint/bin/eslint.js ...`. A pipeline or a compound command
 * (`a && b`) decides its own exit status, so none is inferred for those.
 */
export function inferOkExitCodePreset(template: string): OkExitCodePreset | undefined {
  if (/[|&;]|\$\(|`/.test(template.replace(/'[^']*'|"[^"]*"/g, ''))) return undefined;
  for (const word of template.trim().split(/\s+/)) {
    if (/^[A-Z_][A-Z0-9_]*=/.test(word) || word.startsWith('-') && word !== '-m') continue;
    const name = program(word);
    if ((OK_EXIT_CODE_PRESET_NAMES as string[]).includes(name)) return name as OkExitCodePreset;
    if (RUNNERS.has(name) || /^node(js)?$|^python\d?(\.\d+)?$/.test(name)) continue;
    // `node node_modules/eslint/bin/eslint.js`: the package folder names the tool.
    const fromPackage = /(?:^|\/)node_modules\/(?:@[^/]+\/)?([^/]+)\//.exec(word)?.[1];
    if (fromPackage && (OK_EXIT_CODE_PRESET_NAMES as string[]).includes(fromPackage)) return fromPackage as OkExitCodePreset;
    return undefined;
  }
  return undefined;
}

function program(word: string): string {
  return path.basename(word.replace(/^['"]|['"]$/g, '')).replace(/\.(c?js|mjs|exe|cmd)$/, '').replace(/@[^@]*$/, '');
}
