// Maps stack frames of the compiled suites (out/test/**.js) back to their TypeScript sources, by
// reading the .js.map files esbuild writes. Done by hand because the extension host installs its
// own Error.prepareStackTrace, which bypasses Node's --enable-source-maps.
import * as fs from 'fs';
import * as path from 'path';
import { SourceMap } from 'module';

const maps = new Map<string, SourceMap | null>();

function mapFor(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map !== undefined) return map;
  map = null;
  try {
    const payload = JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0];
    map = new SourceMap(payload);
  } catch {
    // no map: the frame stays as it is
  }
  maps.set(file, map);
  return map;
}

const FRAME = /(\(|at )((?:\/|[A-Za-z]:\\)[^()\s]+?\.js):(\d+):(\d+)(\)?)$/;

/** Rewrites `at fn (/abs/out/test/x.js:10:5)` lines to point at the original .ts source. */
export function mapStack(stack: string | undefined): string | undefined {
  if (!stack) return stack;
  return stack
    .split('\n')
    .map((line) => {
      const match = FRAME.exec(line);
      if (!match) return line;
      const [whole, before, file, lineText, columnText, after] = match;
      const map = mapFor(file);
      if (!map) return line;
      const entry = map.findEntry(Number(lineText) - 1, Number(columnText) - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (!entry || entry.originalSource === undefined || entry.originalLine === undefined) return line;
      const source = entry.originalSource.startsWith('file://')
        ? new URL(entry.originalSource).pathname
        : path.resolve(path.dirname(file), entry.originalSource);
      const mapped = `${before}${source}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}${after}`;
      return line.slice(0, line.length - whole.length) + mapped;
    })
    .join('\n');
}
