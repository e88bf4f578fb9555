// Types for build-tests.js, so the TypeScript harness can call it.
export const ROOT: string;
export const TEST_DIR: string;
export const OUT_DIR: string;
export function findSuites(dir: string): string[];
export function outputFor(source: string): string;
export function buildTests(suites?: string[]): Promise<{ host: string; suites: { source: string; output: string }[] }>;
