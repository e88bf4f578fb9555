// dist/agent.js: a small start-up that loads the agent's bundle (dist/agent-main.js) with a code
// cache; every agent process the pool forks starts here.
import * as path from 'path';
import { loadBundle } from '../core/launch/codeCache';

loadBundle(path.join(__dirname, 'agent-main.js'));
