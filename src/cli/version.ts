// The package version, written into the bundles by esbuild.js (undefined when run from source).
declare const SWARM_VERSION: string | undefined;

export function swarmVersion(): string | undefined {
  return typeof SWARM_VERSION === 'string' ? SWARM_VERSION : undefined;
}
