// Types for install-code-server.js, so the TypeScript harness can call it.
export const DEFAULT_VERSION: string;
export function version(): string;
export function cacheRoot(): string;
export function installDir(): string;
export function entryPoint(dir?: string): string;
export function isInstalled(dir?: string): boolean;
export function staleReason(dir?: string): string | undefined;
export function missingPrerequisites(): { what: string; apt: string }[];
export function ensureCodeServer(options?: {
  force?: boolean;
  log?: (line: string) => void;
}): Promise<{ dir: string; entry: string; version: string }>;
