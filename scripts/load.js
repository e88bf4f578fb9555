#!/usr/bin/env node
// A load generator for proving that tests hold on a busy machine: N CPU-bound burner processes
// (default 2, one per core here) that run until this process is stopped.
//
//   node scripts/load.js                     2 burners until Ctrl-C / SIGTERM
//   node scripts/load.js --burners 4         4 burners
//   node scripts/load.js --seconds 60        stop by itself after a minute
//
// Stopping: SIGINT, SIGTERM or SIGHUP ends every burner and then this process (exit 0). Each
// burner also ends by itself when this process dies without cleaning up (kill -9): it watches its
// IPC channel to the parent, which the kernel closes with the parent. The first line on stdout is
// `load: N burners running (pids ...)`, printed once every burner has started, so a caller can wait
// for it; `load: stopped` is printed last.
'use strict';

const { fork } = require('child_process');

const BURNER_FLAG = '--burner';
/** How long a burner computes before it lets its event loop see a closed IPC channel. */
const SLICE_MS = 50;

function usage(message) {
  if (message) console.error(`load.js: ${message}`);
  console.error('usage: node scripts/load.js [--burners N] [--seconds S]');
  process.exit(2);
}

function positiveInteger(name, value) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) usage(`${name} wants a whole number of at least 1, got "${value ?? ''}"`);
  return number;
}

function parseArguments(argv) {
  const options = { burners: 2, seconds: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--burners' || arg === '-n') options.burners = positiveInteger('--burners', argv[++i]);
    else if (arg === '--seconds') options.seconds = positiveInteger('--seconds', argv[++i]);
    else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument "${arg}"`);
  }
  return options;
}

/** Burner body: busy arithmetic in slices, yielding between slices so a parent's death is noticed. */
function burn() {
  let sink = 0;
  const slice = () => {
    const until = Date.now() + SLICE_MS;
    while (Date.now() < until) {
      for (let i = 0; i < 10_000; i += 1) sink = (sink * 31 + i) % 1_000_003;
    }
    setImmediate(slice);
  };
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ ready: process.pid });
  slice();
}

/** Starts `count` burners; resolves once every one reported ready. */
function startBurners(count) {
  const burners = [];
  const ready = [];
  for (let i = 0; i < count; i += 1) {
    const child = fork(__filename, [BURNER_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    burners.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code, signal) => reject(new Error(`burner ${child.pid} ended before it started (${signal ?? code})`)));
      }),
    );
  }
  return { burners, ready: Promise.all(ready) };
}

/** Ends every burner (SIGTERM, then SIGKILL for one that does not go) and waits for their exits. */
function stopBurners(burners) {
  return Promise.all(
    burners.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const { burners, ready } = startBurners(options.burners);
  let stopping;
  const stop = () => {
    stopping ??= stopBurners(burners).then(() => {
      console.log('load: stopped');
      process.exit(0);
    });
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
  try {
    await ready;
  } catch (error) {
    console.error(`load.js: ${error.message}`);
    await stopBurners(burners);
    process.exit(1);
  }
  console.log(`load: ${burners.length} burners running (pids ${burners.map((child) => child.pid).join(' ')})`);
  if (options.seconds) setTimeout(stop, options.seconds * 1000);
}

if (process.argv[2] === BURNER_FLAG) burn();
else main();
