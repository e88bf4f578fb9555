// A model endpoint on 127.0.0.1 for tests: it speaks the real wire formats of OpenAI chat
// completions and Anthropic Messages, records every request, and answers from a script the test
// writes (one reply per request, in order).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  /** When the request had arrived completely. */
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  rawBody: string;
  /** When the reply was sent; undefined until then. */
  answeredAt?: number;
}

export interface ScriptedReply {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as is when a string, as JSON otherwise. */
  body?: unknown;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Answer after this many milliseconds. */
  delayMs?: number;
}

export interface ModelServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Queues replies; each request takes the next one. */
  reply(...replies: ScriptedReply[]): void;
  /** Forgets recorded requests and unused replies. */
  reset(): void;
  close(): Promise<void>;
}

export async function startModelServer(): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const script: ScriptedReply[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const recorded: RecordedRequest = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, rawBody, at: Date.now() };
      requests.push(recorded);
      const next = script.shift() ?? { status: 500, body: { error: { message: 'the test scripted no reply for this request' } } };
      if (next.hang) return;
      const text = typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {});
      const send = (): void => {
        response.writeHead(next.status ?? 200, { 'content-type': 'application/json', ...next.headers });
        response.end(text);
        recorded.answeredAt = Date.now();
      };
      if (next.delayMs === undefined) send();
      else setTimeout(send, next.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    reply: (...replies) => script.push(...replies),
    reset: () => {
      requests.length = 0;
      script.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A successful OpenAI chat completion carrying `text`, shaped like api.openai.com's. */
export function openAiCompletion(text: string, finishReason = 'stop'): ScriptedReply {
  return {
    body: {
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: 'test-model',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }],
      usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 },
    },
  };
}

/** A successful Anthropic message carrying `text`, shaped like api.anthropic.com's. */
export function anthropicMessage(text: string, stopReason = 'end_turn'): ScriptedReply {
  return {
    body: {
      id: 'msg_test',
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [{ type: 'text', text }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 20 },
    },
  };
}

/** An error reply in the providers' common `{error: {message}}` shape. */
export function errorReply(status: number, message: string, headers: Record<string, string> = {}): ScriptedReply {
  return { status, headers, body: { error: { message, type: 'test_error' } } };
}

/** A SEARCH/REPLACE edit block for `file`. */
export function searchReplace(file: string, search: string, replace: string): string {
  return `${file}\n\`\`\`\n<<<<<<< SEARCH\n${search}\n=======\n${replace}\n>>>>>>> REPLACE\n\`\`\``;
}

/** A whole-file block for `file`. */
export function wholeFile(file: string, content: string): string {
  return `${file}\n<<<<<<< FILE\n${content}\n>>>>>>> FILE`;
}
