// The Anthropic Messages API: POST {baseUrl}/v1/messages with x-api-key and anthropic-version,
// `system` outside the messages and `max_tokens` required.
import type { RateLimiterClient } from '../../../ratelimit/types';
import { ExecutorError, type ChatProvider, type ChatRequest, type ChatResponse } from '../../types';
import { postChat, snippet, type HttpSettings } from './http';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';

export interface AnthropicOptions {
  baseUrl: string;
  model: string;
  apiKey: string;
  apiKeyEnv: string;
  endpointKey: string;
  maxTokens: number;
  requestTimeoutMs: number;
  retries: number;
  maxInlineWaitMs: number;
  limiter?: RateLimiterClient;
  retryBackoff?: HttpSettings['retryBackoff'];
}

export class AnthropicChatProvider implements ChatProvider {
  readonly name = 'anthropic';

  constructor(private readonly options: AnthropicOptions) {}

  complete(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    const { options } = this;
    const body = {
      model: options.model,
      max_tokens: request.maxTokens ?? options.maxTokens,
      ...(request.system ? { system: request.system } : {}),
      messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
      ...(request.temperature !== undefined ? { temperature: Math.min(1, request.temperature) } : {}),
    };
    const settings: HttpSettings = {
      label: 'the Anthropic API',
      url: `${options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/messages`,
      headers: { 'x-api-key': options.apiKey, 'anthropic-version': ANTHROPIC_VERSION },
      endpointKey: options.endpointKey,
      requestTimeoutMs: options.requestTimeoutMs,
      retries: options.retries,
      maxInlineWaitMs: options.maxInlineWaitMs,
      limiter: options.limiter,
      keyAdvice: `Set ${options.apiKeyEnv} to a valid Anthropic API key in the environment of the agent process.`,
      retryBackoff: options.retryBackoff,
    };
    return postChat(settings, body, parseMessage, signal);
  }
}

interface MessageJson {
  type?: string;
  model?: string;
  content?: Array<{ type?: string; text?: unknown }>;
  stop_reason?: string;
  usage?: { input_tokens?: number; output_tokens?: number };
  error?: { type?: string; message?: string };
}

export function parseMessage(json: unknown): ChatResponse {
  const message = (json ?? {}) as MessageJson;
  if (message.type === 'error') throw new ExecutorError('transient', `The Anthropic API returned an error in a successful reply: ${message.error?.message ?? snippet(JSON.stringify(json))}`);
  if (!Array.isArray(message.content)) {
    throw new ExecutorError('transient', `The Anthropic API reply has no content array, so it is not a message: ${snippet(JSON.stringify(json))}`);
  }
  const text = message.content.filter((block) => block.type === 'text' && typeof block.text === 'string').map((block) => block.text as string).join('');
  return {
    text,
    model: message.model,
    stopReason: message.stop_reason,
    usage: { inputTokens: message.usage?.input_tokens, outputTokens: message.usage?.output_tokens },
  };
}
