export * from './types';
export * from './backoff';
export * from './retryAfter';
export * from './limiter';
export * from './ipc';
