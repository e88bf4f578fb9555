// OpenAI-compatible chat completions: OpenAI itself, Ollama, LM Studio, vLLM, OpenRouter...
// POST {baseUrl}/chat/completions with an optional Bearer key.
import type { RateLimiterClient } from '../../../ratelimit/types';
import { ExecutorError, type ChatProvider, type ChatRequest, type ChatResponse } from '../../types';
import { postChat, snippet, type HttpSettings } from './http';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAiOptions {
  baseUrl: string;
  model: string;
  apiKey?: string;
  apiKeyEnv?: string;
  endpointKey: string;
  requestTimeoutMs: number;
  retries: number;
  maxInlineWaitMs: number;
  limiter?: RateLimiterClient;
  retryBackoff?: HttpSettings['retryBackoff'];
}

export class OpenAiChatProvider implements ChatProvider {
  readonly name = 'openai';
  /**
   * OpenAI's reasoning models refuse `max_tokens` and want `max_completion_tokens`, which older
   * OpenAI-compatible servers do not know. Start with the widely understood one; switch on refusal.
   */
  private tokenLimitField: 'max_tokens' | 'max_completion_tokens' = 'max_tokens';

  constructor(private readonly options: OpenAiOptions) {}

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    try {
      return await this.send(request, signal);
    } catch (error) {
      if (!(request.maxTokens !== undefined && this.tokenLimitField === 'max_tokens' && refusesMaxTokens(error))) throw error;
      this.tokenLimitField = 'max_completion_tokens';
      return this.send(request, signal);
    }
  }

  private send(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    const { options } = this;
    const messages = [...(request.system ? [{ role: 'system', content: request.system }] : []), ...request.messages];
    const body = {
      model: options.model,
      messages,
      stream: false,
      ...(request.maxTokens !== undefined ? { [this.tokenLimitField]: request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    };
    const settings: HttpSettings = {
      label: 'the OpenAI-compatible endpoint',
      url: `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`,
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      endpointKey: options.endpointKey,
      requestTimeoutMs: options.requestTimeoutMs,
      retries: options.retries,
      maxInlineWaitMs: options.maxInlineWaitMs,
      limiter: options.limiter,
      keyAdvice: options.apiKeyEnv
        ? `Set ${options.apiKeyEnv} to a valid key in the environment of the agent process.`
        : 'The request carried no key: set "apiKeyEnv" in the executor settings to the name of the variable holding it.',
      retryBackoff: options.retryBackoff,
    };
    return postChat(settings, body, parseChatCompletion, signal);
  }
}

/** The 400 OpenAI sends reasoning models given `max_tokens` ("Use 'max_completion_tokens' instead."). */
function refusesMaxTokens(error: unknown): boolean {
  return error instanceof ExecutorError && error.kind === 'permanent' && /max_tokens/.test(error.message) && /max_completion_tokens/.test(error.message);
}

interface CompletionJson {
  model?: string;
  choices?: Array<{ message?: { content?: unknown }; finish_reason?: string }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  error?: { message?: string };
}

export function parseChatCompletion(json: unknown): ChatResponse {
  const completion = (json ?? {}) as CompletionJson;
  if (completion.error?.message) throw new ExecutorError('transient', `The endpoint returned an error in a successful reply: ${completion.error.message}`);
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  const text = contentText(choice?.message?.content);
  if (text === undefined) {
    throw new ExecutorError('transient', `The endpoint's reply has no choices[0].message.content, so it is not a chat completion: ${snippet(JSON.stringify(json))}`);
  }
  return {
    text,
    model: completion.model,
    stopReason: choice?.finish_reason,
    usage: { inputTokens: completion.usage?.prompt_tokens, outputTokens: completion.usage?.completion_tokens },
  };
}

/** Content is a string, or (some servers) an array of `{type: 'text', text}` parts. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content.map((part) => (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''));
  return parts.join('');
}
