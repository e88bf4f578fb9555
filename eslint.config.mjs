// ESLint for src/, test/, bench/ and scripts/ (`npm run lint`, part of `npm test`).
// Its main job is the layering (docs/architecture.md): no `vscode` import outside the extension
// layer, and no import cycle in src/. The style rules are typescript-eslint's recommended set,
// with the few rules the tree does not follow turned off below, each with its reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

/** Node's built-in globals, for the plain .js/.mjs scripts (TypeScript files get them from @types/node). */
const nodeGlobals = Object.fromEntries(
  [
    'require', 'module', 'exports', '__dirname', '__filename', 'process', 'console', 'Buffer',
    'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate',
    'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal',
    'fetch', 'structuredClone', 'queueMicrotask', 'performance', 'globalThis',
  ].map((name) => [name, 'readonly']),
);

const vscodeOnlyInTheExtension = {
  paths: [
    {
      name: 'vscode',
      message:
        'Only the extension layer (src/extension/**) may import vscode: core, CLI, agent, MCP and webview code runs without VS Code (docs/architecture.md).',
    },
  ],
};

/**
 * A relative import that reaches into one of the `folders` of src/ (any number of `../` first).
 * Type-only imports pass when `allowTypeImports` is set: they vanish from the emitted JavaScript.
 */
function importOf(folders, message, allowTypeImports = false) {
  return { regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`, allowTypeImports, message };
}

/**
 * Layering, part 2: what each layer of src/ may import (docs/architecture.md). The core and the
 * shared contracts know no front end; front ends do not import each other, except the CLI, which
 * serves the MCP server (`swarm mcp`). Inside the core, worktree, process and diff sit below the pool
 * and the patches: a worktree is made and diffed without knowing the pool that uses it or the
 * patches made from it. Per-file cycles are caught by import-x/no-cycle below; this keeps folders
 * from forming one (worktree -> pool -> worktree). The pool's isolation interface, which a worktree
 * implements, may still be imported as a type.
 */
function layerConfigs() {
  const frontEnds = ['cli', 'extension', 'mcp', 'agent', 'webview'];
  const others = (own) => frontEnds.filter((name) => name !== own);
  const core = importOf(frontEnds, 'The core and src/shared know no front end (CLI, extension, MCP, agent, webview): move what both need into the core.');
  const layers = [
    { files: ['src/core/**/*.ts', 'src/shared/**/*.ts'], patterns: [core] },
    {
      files: ['src/core/worktree/**/*.ts', 'src/core/process/**/*.ts', 'src/core/diff/**/*.ts'],
      patterns: [core, importOf(['pool', 'patch'], 'worktree, process and diff sit below the pool and the patches: move the shared piece down instead.', true)],
    },
    { files: ['src/cli/**/*.ts'], patterns: [importOf(others('cli').filter((name) => name !== 'mcp'), 'The CLI uses the core (and serves the MCP server), never another front end.')] },
    ...['extension', 'mcp', 'agent', 'webview'].map((own) => ({
      files: [`src/${own}/**/*.ts`],
      patterns: [importOf(others(own), `src/${own} uses the core and src/shared, never another front end: move what both need into the core or src/shared.`)],
    })),
  ];
  return layers.map(({ files, patterns }) => ({ files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } }));
}

export default tseslint.config(
  {
    ignores: ['dist/**', 'out/**', 'node_modules/**', 'test/fixtures/**', '.swarm/**', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    languageOptions: { globals: nodeGlobals },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsc already reports unused locals and parameters (tsconfig noUnused*); a second report adds nothing.
      '@typescript-eslint/no-unused-vars': 'off',
      // `catch {}` and empty callbacks are deliberate in cleanup paths (best-effort removal of temp
      // files, killing a process that may be gone); each one would need a comment-only edit.
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/no-empty-function': 'off',
      // Tests and harness code use `!` after asserting presence; forbidding it would mean hundreds of
      // redundant checks.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Flags defensive initialisers (`let found = false` before a try that always assigns or throws):
      // style, not a bug; tsc's definite-assignment check covers reads before any assignment.
      'no-useless-assignment': 'off',
      // Control characters in regular expressions are how terminal output (ANSI escapes) is parsed.
      'no-control-regex': 'off',
    },
  },
  {
    // Plain CommonJS build and helper scripts: `require` is how they load modules.
    files: ['**/*.{js,cjs}', 'esbuild.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Layering, part 1: vscode only in the extension layer and the tests that drive it.
    files: ['**/*.{ts,js,mjs,cjs}'],
    ignores: ['src/extension/**', 'test/unit/extension/**', 'test/integration/**', 'test/harness/**', 'test/harness-fixtures/**'],
    rules: { 'no-restricted-imports': ['error', vscodeOnlyInTheExtension] },
  },
  ...layerConfigs(),
  {
    // Layering, part 3: no import cycle in src/. A cycle makes load order decide which module sees
    // the other half-initialised. `import type` (and imports whose every name is `type`) are not
    // followed by import-x/no-cycle: they vanish from the emitted JavaScript, so they cannot form a
    // runtime cycle.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
