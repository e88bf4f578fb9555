// dist/cli.js, the `swarm` command: it runs the CLI's bundle (dist/cliMain.js) from V8's code
// cache (core/compileCache.ts), so a command does not compile 1.2 MB of JavaScript again each time.
import * as path from 'path';
import { runBundle } from '../core/compileCache';

// `swarm run` starts the pool (the code agents wait on): its cache is not the one a quick command writes.
runBundle(path.join(__dirname, 'cliMain.js'), { variant: process.argv.slice(2).includes('run') ? 'run' : undefined });
