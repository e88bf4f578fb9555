// Models the host lends over IPC (VS Code's vscode.lm). The broker does the work; this provider
// keeps requests inside the shared rate budget and gives failures their class.
import { withPermit } from '../../../ratelimit/limiter';
import type { RateLimiterClient } from '../../../ratelimit/types';
import { classifyError, ExecutorError, type ChatProvider, type ChatRequest, type ChatResponse, type HostModelBroker } from '../../types';

export class HostChatProvider implements ChatProvider {
  readonly name = 'host';

  constructor(
    private readonly broker: HostModelBroker,
    private readonly model: string | undefined,
    private readonly endpointKey: string,
    private readonly limiter?: RateLimiterClient,
  ) {}

  complete(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    return withPermit(this.limiter, this.endpointKey, signal, async (report) => {
      try {
        const response = await this.broker.complete({ ...request, ...(this.model ? { model: this.model } : {}) }, signal);
        report({ status: 200 });
        return response;
      } catch (error) {
        if (signal.aborted) throw ExecutorError.cancelled('The request to the VS Code language model');
        const failure = classifyError(error);
        if (failure.kind === 'rate-limited') report({ status: 429, retryAfterMs: failure.retryAt === undefined ? undefined : Math.max(0, failure.retryAt - Date.now()) });
        throw new ExecutorError(failure.kind, `The VS Code language model failed: ${failure.message}`, { retryAt: failure.retryAt, cause: error });
      }
    });
  }
}
