// Types for the parts of BullMQ's build the Redis board reads directly (bullmq.ts): its Lua
// scripts and its version. BullMQ ships no declarations for its CommonJS build's inner files.
declare module 'bullmq/dist/cjs/scripts/index' {
  const scripts: { [name: string]: { name: string; content: string; keys: number } };
  export = scripts;
}

declare module 'bullmq/dist/cjs/version' {
  export const version: string;
}
