// Run metrics: time series and the run summary from board events and pool stats (vscode-free).
export * from './types';
export { MetricsCollector, resourceSampleOf, DEFAULT_CAPACITY, type MetricsCapacity, type MetricsOptions, type QueueCounts } from './collector';
export { collectBoardMetrics, boardQueueCounts, queueCountsOf, boardDeadLetters, deadLetterOf, type MetricsBoard } from './board-source';
export { MetricsFeed, type MetricsFeedOptions, type PoolSource } from './feed';
export { ResourceLog, recordPoolResources, readResourceLog, readBoardResources, resourceLogPath, resourceLogRoot, resourceStoreOf, fileResourceStore, type ResourceLogOptions, type ResourceStore } from './resource-log';
