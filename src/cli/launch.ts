// dist/cli.js: a small start-up that loads the CLI's bundle (dist/cli-main.js) with a code cache.
import * as path from 'path';
import { loadBundle } from '../core/launch/codeCache';

loadBundle(path.join(__dirname, 'cli-main.js'));
