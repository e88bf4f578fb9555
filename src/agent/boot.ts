// dist/agent.js, the program the pool forks: it runs the agent's bundle (dist/agentMain.js) from
// V8's code cache (core/compileCache.ts), so agents started together do not each compile it again.
import * as path from 'path';
import { runBundle } from '../core/compileCache';

runBundle(path.join(__dirname, 'agentMain.js'));
