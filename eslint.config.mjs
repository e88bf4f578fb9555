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
  {
    // Layering inside the core: a worktree is made and diffed without knowing the pool that uses it
    // or the patches made from it, and the process and diff-parsing helpers are leaves. Per-file
    // cycles are caught below; this keeps the folders from forming one (worktree -> pool -> worktree).
    // Type imports are allowed: the pool's isolation interface is what a worktree implements.
    files: ['src/core/worktree/**/*.ts', 'src/core/process/**/*.ts', 'src/core/diff/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(pool|patch|cli|extension|mcp|agent)(/|$)',
              allowTypeImports: true,
              message: 'worktree, process and diff sit below the pool and the patches (docs/architecture.md); move the shared piece down instead.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layering, part 2: no import cycle in src/. A cycle makes load order decide which module sees
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
