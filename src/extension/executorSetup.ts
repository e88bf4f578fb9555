// "Swarm: Configure Executor": pick a detected coding-agent CLI, a command template or a model
// endpoint; the choice goes to the user's (machine-scoped) settings, API keys to SecretStorage.
import * as vscode from 'vscode';
import { AGENT_PRESETS, AGENT_NAMES, detectPresets } from '../core/executors';
import { SECTION } from './settings';
import type { SwarmSession } from './session';

const SECRET_PREFIX = 'agentSwarm.apiKey.';

interface ExecutorPick extends vscode.QuickPickItem {
  build: () => Promise<unknown | undefined>;
}

export async function configureExecutor(context: vscode.ExtensionContext, session: SwarmSession): Promise<unknown | undefined> {
  const detected = detectPresets();
  const detectedNames = new Set(detected.map((agent) => agent.preset.name));
  const picks: ExecutorPick[] = [
    ...detected.map((agent) => ({ label: `$(terminal) ${agent.preset.name}`, description: agent.executable, detail: agent.preset.template, build: async () => ({ type: 'agent', agent: agent.preset.name }) })),
    ...AGENT_NAMES.filter((name) => !detectedNames.has(name)).map((name) => ({
      label: `$(circle-slash) ${name}`,
      description: `not found on PATH (${AGENT_PRESETS[name].binary})`,
      detail: `Install it first: ${AGENT_PRESETS[name].docs}`,
      build: async () => ({ type: 'agent', agent: name }),
    })),
    { label: '$(symbol-event) Command template…', description: 'e.g. eslint --fix {files}', build: () => commandTemplate() },
    { label: '$(cloud) OpenAI-compatible endpoint…', description: 'model, base URL, API key', build: () => modelEndpoint(context, 'openai') },
    { label: '$(cloud) Anthropic…', description: 'model, API key', build: () => modelEndpoint(context, 'anthropic') },
    { label: '$(copilot) VS Code language model', description: 'the models this editor provides (e.g. Copilot)', build: async () => ({ type: 'model', provider: 'host' }) },
  ];
  const pick = await vscode.window.showQuickPick(picks, { title: 'Swarm: Configure Executor', placeHolder: 'How should agents do their work?', matchOnDescription: true });
  if (!pick) return undefined;
  const executor = await pick.build();
  if (executor === undefined) return undefined;
  await vscode.workspace.getConfiguration(SECTION).update('executor', executor, vscode.ConfigurationTarget.Global);
  session.log.info(`Executor set: ${JSON.stringify(executor)}`);
  void vscode.window.showInformationMessage('Executor saved to your user settings (agentSwarm.executor). Start the swarm to use it.');
  return executor;
}

async function commandTemplate(): Promise<unknown | undefined> {
  const command = await vscode.window.showInputBox({
    title: 'Command template',
    prompt: 'Runs in the task folder. Placeholders: {files}, {prompt}, {title}, {taskId}, {promptFile}',
    placeHolder: 'eslint --fix {files}',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'Enter a command'),
  });
  return command?.trim() ? { type: 'command', command: command.trim() } : undefined;
}

async function modelEndpoint(context: vscode.ExtensionContext, provider: 'openai' | 'anthropic'): Promise<unknown | undefined> {
  const model = await vscode.window.showInputBox({ title: 'Model', prompt: 'Model id', placeHolder: provider === 'openai' ? 'gpt-4o-mini' : 'claude-sonnet-4-5', ignoreFocusOut: true });
  if (!model?.trim()) return undefined;
  const baseUrl =
    provider === 'openai'
      ? await vscode.window.showInputBox({ title: 'Base URL', prompt: 'Up to and including /v1', value: 'https://api.openai.com/v1', ignoreFocusOut: true, validateInput: (value) => (/^https?:\/\//.test(value) ? undefined : 'Enter an http(s) URL') })
      : undefined;
  if (provider === 'openai' && !baseUrl) return undefined;
  const apiKeyEnv = provider === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY';
  const key = await vscode.window.showInputBox({ title: `${apiKeyEnv}`, prompt: 'API key (stored in VS Code SecretStorage, given to agents as an environment variable, never written to settings or the board). Leave empty to use the environment.', password: true, ignoreFocusOut: true });
  if (key === undefined) return undefined;
  if (key.trim()) await context.secrets.store(`${SECRET_PREFIX}${apiKeyEnv}`, key.trim());
  return { type: 'model', provider, model: model.trim(), ...(baseUrl ? { baseUrl } : {}), apiKeyEnv };
}

/** Environment for agents: API keys from SecretStorage under the names the executor asks for. */
export async function executorEnv(context: vscode.ExtensionContext, session: SwarmSession): Promise<NodeJS.ProcessEnv> {
  let executor: { apiKeyEnv?: string } | undefined;
  try {
    executor = session.resolveExecutor() as { apiKeyEnv?: string };
  } catch {
    return {}; // start() reports the executor problem itself.
  }
  const names = [executor.apiKeyEnv, 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY'].filter((name): name is string => Boolean(name));
  const env: NodeJS.ProcessEnv = {};
  for (const name of new Set(names)) {
    const value = await context.secrets.get(`${SECRET_PREFIX}${name}`);
    if (value) env[name] = value;
  }
  return env;
}
