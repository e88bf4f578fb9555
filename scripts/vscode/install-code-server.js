#!/usr/bin/env node
// Installs code-server (a real VS Code: server, web client and Node extension host) from the npm
// registry into a cache folder outside the repository, keyed by version, without any download but
// the npm registry's. Recipe and reasons: docs/testing.md ("How code-server is installed").
//
//   node scripts/vscode/install-code-server.js            install if missing, print the folder
//   node scripts/vscode/install-code-server.js --check    say whether it is installed (exit 1 if not)
//   node scripts/vscode/install-code-server.js --force    install again even if cached
//
// Environment:
//   SWARM_CODE_SERVER_DIR      the install folder itself (default: $SWARM_CACHE_DIR/code-server-<version>)
//   SWARM_CACHE_DIR            cache root (default: $XDG_CACHE_HOME/agent-swarm or ~/.cache/agent-swarm)
//   SWARM_CODE_SERVER_VERSION  another code-server version (4.100.3 is the one that runs on Node 20)
//
// The folder is built beside its final place and renamed into it only once complete, and a marker
// file is written last, so an interrupted install is never taken for a finished one.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const DEFAULT_VERSION = '4.100.3';
const MARKER = '.agent-swarm-install.json';
/** What the Debian packages give; apt names in the message when missing. */
const PREREQUISITES = [
  { what: 'ripgrep (rg)', check: () => which('rg'), apt: 'ripgrep' },
  { what: 'Kerberos headers (krb5.h)', check: () => firstExisting(['/usr/include/krb5.h', '/usr/include/krb5/krb5.h']), apt: 'libkrb5-dev' },
  { what: 'C++ compiler (g++)', check: () => which('g++'), apt: 'g++' },
  { what: 'make', check: () => which('make'), apt: 'make' },
  { what: 'python3 (for node-gyp)', check: () => which('python3'), apt: 'python3' },
];

function version() {
  return process.env.SWARM_CODE_SERVER_VERSION || DEFAULT_VERSION;
}

function cacheRoot() {
  if (process.env.SWARM_CACHE_DIR) return path.resolve(process.env.SWARM_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'agent-swarm');
}

/** The folder code-server is (or will be) installed in. */
function installDir() {
  if (process.env.SWARM_CODE_SERVER_DIR) return path.resolve(process.env.SWARM_CODE_SERVER_DIR);
  return path.join(cacheRoot(), `code-server-${version()}`);
}

/** Where code-server's entry point is once installed. */
function entryPoint(dir = installDir()) {
  return path.join(dir, 'package', 'out', 'node', 'entry.js');
}

function which(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const full = path.join(dir, command);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      if (fs.statSync(full).isFile()) return full;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

function firstExisting(paths) {
  return paths.find((p) => fs.existsSync(p));
}

/** Lists what the install needs from Debian and is missing, each with its apt package. */
function missingPrerequisites() {
  return PREREQUISITES.filter((p) => !p.check()).map((p) => ({ what: p.what, apt: p.apt }));
}

function readMarker(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Why the install in `dir` cannot be used, or undefined when it can. Native modules are built for
 * one Node ABI, so a Node upgrade makes the cache stale too.
 */
function staleReason(dir = installDir()) {
  const marker = readMarker(dir);
  if (!marker) return fs.existsSync(dir) ? 'an unfinished install (no marker)' : 'not installed';
  if (marker.version !== version()) return `version ${marker.version} installed, ${version()} wanted`;
  if (marker.nodeAbi !== process.versions.modules) {
    return `built for Node ABI ${marker.nodeAbi}, this Node (${process.version}) is ABI ${process.versions.modules}`;
  }
  if (!fs.existsSync(entryPoint(dir))) return 'entry point missing';
  return undefined;
}

function isInstalled(dir = installDir()) {
  return staleReason(dir) === undefined;
}

function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

function makeLogger(log) {
  const started = Date.now();
  return (message) => log(`[code-server +${formatSeconds(Date.now() - started)}] ${message}`);
}

/** Runs a command, streaming its output to stderr (so stdout stays for the final folder). */
function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: ['ignore', process.stderr, process.stderr], ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited with ${result.status ?? result.signal}`);
  }
}

/** node-gyp as shipped inside npm, so nothing else has to be installed. */
function nodeGypScript() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(path.resolve(path.dirname(process.env.npm_execpath), '..'));
  const npm = which('npm');
  if (npm) candidates.push(path.resolve(path.dirname(fs.realpathSync(npm)), '..'));
  candidates.push(path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'));
  for (const npmDir of candidates) {
    const script = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (fs.existsSync(script)) return script;
  }
  throw new Error('node-gyp not found inside npm; install it with `npm i -g node-gyp`');
}

/**
 * Node's headers for node-gyp: the ones installed beside this Node when present (Debian's nodejs
 * and the official tarballs ship them), so node-gyp never tries to download them.
 */
function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;
}

/** Module folders under node_modules (scoped ones included) that carry a binding.gyp. */
function nativeModules(nodeModules) {
  const found = [];
  const visit = (dir, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === '.bin') continue;
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        visit(full, depth);
        continue;
      }
      if (fs.existsSync(path.join(full, 'binding.gyp'))) found.push(full);
      if (depth < 3) visit(path.join(full, 'node_modules'), depth + 1);
    }
  };
  visit(nodeModules, 0);
  return found.sort();
}

function removeQuietly(target) {
  fs.rmSync(target, { recursive: true, force: true });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** A lock folder beside the install, so two runs on one machine do not install at once. */
async function withLock(dir, log, body) {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 30 * 60 * 1000;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (!holder || !pidAlive(holder)) {
        log(`removing a stale lock left by pid ${holder || '?'}`);
        removeQuietly(lock);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the install lock held by pid ${holder}`, { cause: error });
      log(`waiting for another install (pid ${holder}) to finish`);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
  try {
    return await body();
  } finally {
    removeQuietly(lock);
  }
}

function install(dir, log) {
  const wanted = version();
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(
      `code-server needs these Debian packages to build its native modules: ${missing.map((m) => m.what).join(', ')}.\n` +
        `Install them with: apt-get install -y ${missing.map((m) => m.apt).join(' ')} (./scripts/test.sh installs everything the tests need).`,
    );
  }
  const staging = `${dir}.partial-${process.pid}`;
  removeQuietly(staging);
  fs.mkdirSync(staging, { recursive: true });
  const started = Date.now();
  const steps = 7;
  let step = 0;
  const stage = (message) => log(`step ${++step}/${steps}: ${message}`);
  const env = { ...process.env, npm_config_build_from_source: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
  const headers = nodeHeadersDir();
  if (headers) env.npm_config_nodedir = headers;
  try {
    stage(`npm pack code-server@${wanted}`);
    run('npm', ['pack', `code-server@${wanted}`, '--silent'], { cwd: staging, env });
    const tarball = fs.readdirSync(staging).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack produced no tarball');
    run('tar', ['-xzf', tarball], { cwd: staging, env });
    fs.rmSync(path.join(staging, tarball));
    const pkg = path.join(staging, 'package');
    const vscode = path.join(pkg, 'lib', 'vscode');

    const npmInstall = ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    stage('npm install (code-server)');
    run('npm', npmInstall, { cwd: pkg, env });
    stage('npm install (lib/vscode)');
    run('npm', npmInstall, { cwd: vscode, env });
    stage('npm install (lib/vscode/extensions)');
    run('npm', npmInstall, { cwd: path.join(vscode, 'extensions'), env });

    stage('build argon2 from source');
    run('npm', ['rebuild', 'argon2', '--foreground-scripts', '--loglevel=error'], { cwd: pkg, env });

    const gyp = nodeGypScript();
    const modules = nativeModules(path.join(vscode, 'node_modules'));
    stage(`build ${modules.length} native modules with node-gyp: ${modules.map((m) => path.relative(path.join(vscode, 'node_modules'), m)).join(', ')}`);
    const gypArgs = ['rebuild', `--jobs=${Math.max(1, os.cpus().length)}`, '--loglevel=warn'];
    if (headers) gypArgs.push(`--nodedir=${headers}`);
    for (const moduleDir of modules) {
      log(`  node-gyp rebuild ${path.relative(vscode, moduleDir)}`);
      run(process.execPath, [gyp, ...gypArgs], { cwd: moduleDir, env });
    }

    stage('ripgrep, node_modules.asar and bin links');
    const rgTarget = path.join(vscode, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
    fs.mkdirSync(path.dirname(rgTarget), { recursive: true });
    fs.copyFileSync(fs.realpathSync(which('rg')), rgTarget);
    fs.chmodSync(rgTarget, 0o755);
    removeQuietly(path.join(vscode, 'node_modules.asar'));
    fs.symlinkSync('node_modules', path.join(vscode, 'node_modules.asar'));
    const links = [
      ['remote-cli', 'code-linux.sh', 'code-server'],
      ['helpers', 'browser-linux.sh', 'browser.sh'],
    ];
    for (const [folder, source, link] of links) {
      const linkPath = path.join(vscode, 'bin', folder, link);
      if (fs.existsSync(path.join(vscode, 'bin', folder, source))) {
        removeQuietly(linkPath);
        fs.symlinkSync(source, linkPath);
      }
    }

    // code-server writes a default config and logs under XDG folders: keep them out of $HOME.
    const scratch = path.join(staging, 'scratch');
    const check = spawnSync(process.execPath, [entryPoint(staging), '--version'], {
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, XDG_CONFIG_HOME: scratch, XDG_DATA_HOME: scratch },
    });
    removeQuietly(scratch);
    if (check.status !== 0) throw new Error(`code-server --version failed: ${check.stderr || check.stdout}`);
    log(`code-server --version: ${check.stdout.trim().split('\n').pop()}`);

    const marker = {
      version: wanted,
      nodeAbi: process.versions.modules,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      installedAt: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
    };
    fs.writeFileSync(path.join(staging, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    removeQuietly(dir);
    fs.renameSync(staging, dir);
    log(`installed code-server ${wanted} into ${dir} in ${formatSeconds(Date.now() - started)}`);
  } catch (error) {
    removeQuietly(staging);
    throw error;
  }
}

/**
 * Makes sure code-server is installed and returns its folder and entry point. Installs it (a few
 * minutes) only when the cache has no complete install for this version and this Node.
 */
async function ensureCodeServer(options = {}) {
  const log = makeLogger(options.log || ((line) => process.stderr.write(`${line}\n`)));
  const dir = installDir();
  const reason = options.force ? 'reinstall asked for' : staleReason(dir);
  if (!reason) {
    log(`using cached code-server ${version()} in ${dir}`);
    return { dir, entry: entryPoint(dir), version: version() };
  }
  await withLock(dir, log, async () => {
    const again = options.force ? reason : staleReason(dir);
    if (!again) return; // another process finished it while we waited
    log(`installing code-server ${version()} into ${dir} (${again})`);
    install(dir, log);
  });
  return { dir, entry: entryPoint(dir), version: version() };
}

module.exports = {
  DEFAULT_VERSION,
  version,
  cacheRoot,
  installDir,
  entryPoint,
  isInstalled,
  staleReason,
  missingPrerequisites,
  ensureCodeServer,
};

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.includes('--check')) {
    const reason = staleReason();
    console.log(reason ? `code-server ${version()}: ${reason} (${installDir()})` : `code-server ${version()}: installed in ${installDir()}`);
    const missing = missingPrerequisites();
    if (missing.length > 0) console.log(`missing Debian packages: ${missing.map((m) => m.apt).join(' ')}`);
    process.exit(reason ? 1 : 0);
  }
  ensureCodeServer({ force: args.includes('--force') }).then(
    (result) => console.log(result.dir),
    (error) => {
      console.error(`[code-server] install failed: ${error.message}`);
      process.exit(1);
    },
  );
}
