// Public surface of the executors. The pool needs createExecutor, the types, and classifyError.
import { parseExecutorConfig } from './config';
import { createAgentExecutor, createCommandExecutor } from './command';
import { createModelExecutor } from './model/executor';
import type { Executor } from './types';

export * from './types';
export * from './config';
export { AGENT_PRESETS, AGENT_NAMES, detectPresets, findExecutable, type AgentName, type AgentPreset, type DetectedAgent } from './presets';
export { buildAgentPrompt } from './prompt';
export { detectUsageLimit, parseResetTime, DEFAULT_USAGE_LIMIT_BACKOFF_MS, type UsageLimitReport } from './usageLimit';
export { CommandExecutor } from './command';
export { ModelExecutor } from './model/executor';
export { createChatProvider, endpointKeyFor } from './model/providers';
export {
  createHostModelIpcClient,
  serveHostModelsOverIpc,
  isHostModelMessage,
  HOST_MODELS_CHANNEL,
  type HostModelIpcClient,
  type HostModelIpcServer,
  type HostModelMessage,
  type HostModelClientMessage,
  type HostModelServerMessage,
} from './model/hostIpc';
export { runInProcessGroup, killProcessTree, isProcessGone, type GroupRunOptions, type GroupRunResult } from './process';
export { shellQuote, expandTemplate } from './template';

/**
 * Builds an executor from plain JSON config. Invalid config throws a permanent ExecutorError whose
 * message names each field to fix.
 */
export function createExecutor(config: unknown): Executor {
  const parsed = parseExecutorConfig(config);
  switch (parsed.type) {
    case 'command':
      return createCommandExecutor(parsed);
    case 'agent':
      return createAgentExecutor(parsed);
    case 'model':
      return createModelExecutor(parsed);
  }
}
