// Deliberately failing: the launcher's self-test checks that this failure is reported with the
// test's name and a stack pointing here, and that the run exits non-zero.
import * as assert from 'assert';
import * as vscode from 'vscode';

suite('Deliberately failing', () => {
  test('passes', () => {
    assert.ok(vscode.version);
  });

  test('fails with an assertion', () => {
    assert.strictEqual(1 + 1, 3, 'deliberate failure');
  });
});
