// Command templates for coding-agent CLIs, each using the CLI's documented non-interactive mode.
// Sources (checked when written; CLIs move fast, so docs/executors.md says how to override):
//   claude  https://docs.claude.com/en/docs/claude-code/headless (-p / --print, --permission-mode acceptEdits)
//   codex   https://developers.openai.com/codex/noninteractive (codex exec, --sandbox workspace-write;
//           --full-auto is deprecated there in favour of the explicit sandbox flag)
//   aider   https://aider.chat/docs/scripting.html (--message, --yes-always, --no-auto-commits)
//   gemini  https://geminicli.com/docs/cli/headless/ (-p / --prompt) and the CLI reference (--approval-mode yolo)
//   opencode https://opencode.ai/docs/cli/ (opencode run)
//   goose   https://block.github.io/goose/docs/guides/running-tasks (goose run -t)
//   cursor-agent https://cursor.com/docs/cli (-p print mode, --force)
import fs from 'node:fs';
import path from 'node:path';

export type AgentName = 'claude' | 'codex' | 'aider' | 'gemini' | 'opencode' | 'goose' | 'cursor-agent';

export const AGENT_NAMES: readonly AgentName[] = ['claude', 'codex', 'aider', 'gemini', 'opencode', 'goose', 'cursor-agent'];

export interface AgentPreset {
  name: AgentName;
  /** Executable looked up on PATH. */
  binary: string;
  /** Command template; see ./template.ts for the placeholders. */
  template: string;
  /** Where the flags are documented. */
  docs: string;
  /** Where the CLI keeps its login and session state under $HOME: writable inside the sandbox when
   * present (from each CLI's documentation; untested against the real CLIs, which are not installed
   * on the development machines). */
  homeState: readonly string[];
}

export const AGENT_PRESETS: Readonly<Record<AgentName, AgentPreset>> = {
  claude: {
    name: 'claude',
    binary: 'claude',
    template: 'claude -p {agentPrompt} --permission-mode acceptEdits',
    docs: 'https://docs.claude.com/en/docs/claude-code/headless',
    homeState: ['.claude', '.claude.json', '.config/claude'],
  },
  codex: {
    name: 'codex',
    binary: 'codex',
    template: 'codex exec --sandbox workspace-write {agentPrompt}',
    docs: 'https://developers.openai.com/codex/noninteractive',
    homeState: ['.codex'],
  },
  aider: {
    name: 'aider',
    binary: 'aider',
    template: 'aider --message {agentPrompt} --yes-always --no-auto-commits {files}',
    docs: 'https://aider.chat/docs/scripting.html',
    homeState: ['.aider', '.aider.analytics.json'],
  },
  gemini: {
    name: 'gemini',
    binary: 'gemini',
    template: 'gemini -p {agentPrompt} --approval-mode yolo',
    docs: 'https://geminicli.com/docs/cli/headless/',
    homeState: ['.gemini'],
  },
  opencode: {
    name: 'opencode',
    binary: 'opencode',
    template: 'opencode run {agentPrompt}',
    docs: 'https://opencode.ai/docs/cli/',
    homeState: ['.local/share/opencode', '.local/state/opencode', '.config/opencode'],
  },
  goose: {
    name: 'goose',
    binary: 'goose',
    template: 'goose run -t {agentPrompt}',
    docs: 'https://block.github.io/goose/docs/guides/running-tasks',
    homeState: ['.config/goose', '.local/share/goose', '.local/state/goose'],
  },
  'cursor-agent': {
    name: 'cursor-agent',
    binary: 'cursor-agent',
    template: 'cursor-agent -p {agentPrompt} --force',
    docs: 'https://cursor.com/docs/cli',
    homeState: ['.cursor', '.config/cursor'],
  },
};

export interface DetectedAgent {
  preset: AgentPreset;
  /** Absolute path of the executable found on PATH. */
  executable: string;
}

/** The presets whose CLI is installed, found by searching PATH (no shell is spawned). */
export function detectPresets(pathEnv: string | undefined = process.env.PATH): DetectedAgent[] {
  return AGENT_NAMES.flatMap((name) => {
    const preset = AGENT_PRESETS[name];
    const executable = findExecutable(preset.binary, pathEnv);
    return executable === undefined ? [] : [{ preset, executable }];
  });
}

/** The first executable regular file named `name` in the directories of `pathEnv`. */
export function findExecutable(name: string, pathEnv: string | undefined = process.env.PATH): string | undefined {
  const extensions = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const directory of (pathEnv ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    for (const extension of extensions) {
      const candidate = path.join(directory, name + extension);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutableFile(candidate: string): boolean {
  try {
    if (!fs.statSync(candidate).isFile()) return false;
    fs.accessSync(candidate, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
