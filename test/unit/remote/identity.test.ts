import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isLocalUrl, normaliseRepositoryUrl, stripCredentials } from '../../../src/core/remote';
import { RemoteGitError } from '../../../src/core/remote/errors';

describe('repository identity', () => {
  it('recognises the spellings of one hosted repository as the same', () => {
    const spellings = [
      'git@github.com:a/b.git',
      'git@github.com:a/b',
      'ssh://git@github.com/a/b',
      'ssh://git@github.com:22/a/b.git',
      'git+ssh://git@github.com/a/b.git',
      'https://github.com/a/b.git',
      'https://github.com/a/b/',
      'https://x-access-token:ghp_secret@github.com/a/b.git',
      'http://github.com:80/a/b',
      'git://github.com/a/b.git',
      'HTTPS://GitHub.com/A/B.git',
    ];
    for (const url of spellings) assert.equal(normaliseRepositoryUrl(url), 'github.com/a/b', url);
  });

  it('keeps what distinguishes repositories: host, non-default port, path (case outside GitHub)', () => {
    assert.equal(normaliseRepositoryUrl('ssh://git@example.com:2222/team/app.git'), 'example.com:2222/team/app');
    assert.equal(normaliseRepositoryUrl('https://example.com:8443/team/app'), 'example.com:8443/team/app');
    assert.equal(normaliseRepositoryUrl('git@gitlab.example.com:Group/Sub/App.git'), 'gitlab.example.com/Group/Sub/App');
    assert.notEqual(normaliseRepositoryUrl('git@example.com:team/App.git'), normaliseRepositoryUrl('git@example.com:team/app.git'));
    assert.notEqual(normaliseRepositoryUrl('https://github.com/a/b'), normaliseRepositoryUrl('https://github.com/a/c'));
  });

  it('names a local repository by its real path, with or without .git and through symbolic links', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-identity-')));
    try {
      fs.mkdirSync(path.join(dir, 'repo', '.git'), { recursive: true });
      fs.symlinkSync(path.join(dir, 'repo'), path.join(dir, 'link'));
      const expected = `file://${path.join(dir, 'repo')}`;
      assert.equal(normaliseRepositoryUrl(path.join(dir, 'repo')), expected);
      assert.equal(normaliseRepositoryUrl(path.join(dir, 'repo', '.git')), expected);
      assert.equal(normaliseRepositoryUrl(`file://${path.join(dir, 'link')}`), expected);
      assert.equal(normaliseRepositoryUrl('../repo', path.join(dir, 'link')), expected);
      assert.ok(isLocalUrl(path.join(dir, 'repo')) && isLocalUrl('file:///srv/x.git') && isLocalUrl('./x'));
      assert.ok(!isLocalUrl('git@github.com:a/b.git') && !isLocalUrl('https://github.com/a/b'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a URL', () => {
    assert.throws(() => normaliseRepositoryUrl(''), /not a repository URL/);
    assert.throws(() => normaliseRepositoryUrl('https://github.com/a\nb'), /not a repository URL/);
    assert.throws(() => normaliseRepositoryUrl('https://github.com/'), /has no path/);
  });

  it('a bad remote URL is a configuration error that says what to do, and never repeats its token', () => {
    for (const url of ['', 'https://x-token:ghp_secret@github.com/a\nb', 'https://ghp_secret@github.com/']) {
      assert.throws(
        () => normaliseRepositoryUrl(url),
        (error: unknown) => {
          assert.ok(error instanceof RemoteGitError, `${String(error)} is a RemoteGitError`);
          assert.equal(error.kind, 'config');
          assert.match(error.message, /git remote set-url/);
          assert.doesNotMatch(error.message, /ghp_secret/);
          assert.doesNotMatch(error.message, /\n/);
          return true;
        },
      );
    }
  });

  it('strips credentials before a URL goes onto a shared board', () => {
    assert.equal(stripCredentials('https://user:ghp_secret@github.com/a/b.git'), 'https://github.com/a/b.git');
    assert.equal(stripCredentials('https://ghp_token@github.com/a/b.git'), 'https://github.com/a/b.git');
    assert.equal(stripCredentials('ssh://git:pw@example.com/a/b'), 'ssh://git@example.com/a/b');
    assert.equal(stripCredentials('git@github.com:a/b.git'), 'git@github.com:a/b.git');
    assert.equal(stripCredentials('/srv/repo.git'), '/srv/repo.git');
  });
});
