// Builds the chat provider a model executor config asks for, resolving the API key from the
// environment at run time (never from the board or the config).
import type { ModelExecutorConfig } from '../../config';
import { ExecutorError, type ChatProvider, type ExecutionContext } from '../../types';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicChatProvider } from './anthropic';
import { HostChatProvider } from './host';
import { OPENAI_DEFAULT_BASE_URL, OpenAiChatProvider } from './openai';

export { OpenAiChatProvider, parseChatCompletion, OPENAI_DEFAULT_BASE_URL } from './openai';
export { AnthropicChatProvider, parseMessage, ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_VERSION } from './anthropic';
export { HostChatProvider } from './host';

/** The rate-limiter key: agents using the same endpoint share one budget. */
export function endpointKeyFor(config: ModelExecutorConfig): string {
  if (config.endpointKey) return config.endpointKey;
  if (config.provider === 'host') return `host:${config.model ?? 'default'}`;
  const baseUrl = config.baseUrl ?? (config.provider === 'openai' ? OPENAI_DEFAULT_BASE_URL : ANTHROPIC_DEFAULT_BASE_URL);
  return `${config.provider}:${baseUrl.replace(/\/+$/, '')}`;
}

export function createChatProvider(config: ModelExecutorConfig, ctx: ExecutionContext): ChatProvider {
  const common = {
    endpointKey: endpointKeyFor(config),
    requestTimeoutMs: config.requestTimeoutMs,
    retries: config.retries,
    maxInlineWaitMs: config.maxInlineWaitMs,
    limiter: ctx.limiter,
  };
  const env = { ...process.env, ...ctx.env };
  switch (config.provider) {
    case 'openai': {
      const baseUrl = config.baseUrl ?? OPENAI_DEFAULT_BASE_URL;
      // OpenAI itself needs a key; local servers (Ollama, LM Studio) usually do not.
      const apiKeyEnv = config.apiKeyEnv ?? (baseUrl === OPENAI_DEFAULT_BASE_URL ? 'OPENAI_API_KEY' : undefined);
      const apiKey = apiKeyEnv === undefined ? undefined : requireKey(env, apiKeyEnv, 'the OpenAI-compatible endpoint');
      return new OpenAiChatProvider({ ...common, baseUrl, model: config.model as string, apiKey, apiKeyEnv });
    }
    case 'anthropic': {
      const apiKeyEnv = config.apiKeyEnv ?? 'ANTHROPIC_API_KEY';
      const apiKey = requireKey(env, apiKeyEnv, 'the Anthropic API');
      return new AnthropicChatProvider({ ...common, baseUrl: config.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL, model: config.model as string, apiKey, apiKeyEnv, maxTokens: config.maxTokens });
    }
    case 'host': {
      if (!ctx.hostModels) {
        throw new ExecutorError('permanent', 'The model executor is set to provider "host", but this agent has no connection to VS Code language models (it runs outside the extension). Use provider "openai" or "anthropic" here.');
      }
      return new HostChatProvider(ctx.hostModels, config.model, common.endpointKey, ctx.limiter);
    }
  }
}

function requireKey(env: NodeJS.ProcessEnv, name: string, label: string): string {
  const key = env[name];
  if (key === undefined || key.trim() === '') {
    throw new ExecutorError('permanent', `No API key for ${label}: the environment variable ${name} is not set. Set ${name} in the environment the swarm runs in (or name another variable with "apiKeyEnv").`);
  }
  return key.trim();
}
