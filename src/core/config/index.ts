// Project configuration (swarm.config.json): schema, loader, precedence and live reload.
export * from './schema';
export { ConfigError } from './errors';
export { type ConfigProblem, formatConfigProblem, jsonPathText } from './problems';
export { configFilePath, loadSwarmConfig, parseSwarmConfigText, withoutCommands, type IgnoredSetting, type LoadOptions, type SwarmConfigLoad } from './load';
export { resolveEffectiveConfig, selectExecutor, poolSettingsFrom, keepResultsMsFrom, worktreeSettingsFrom, sandboxSettingsFrom, namedExecutorsFrom, rateLimitsFrom, type ConfigLayers, type ConfigLayerName, type EffectiveConfig } from './resolve';
export { SwarmConfigWatcher, type ConfigState, type WatcherOptions } from './watcher';
