// dist/cli.js, the `swarm` command: it runs the CLI's bundle (dist/cliMain.js) from V8's code
// cache (core/compileCache.ts), so a command does not compile 1.2 MB of JavaScript again each time.
import * as path from 'path';
import { runBundle } from '../core/compileCache';

runBundle(path.join(__dirname, 'cliMain.js'));
