// The one formatter for durations, sizes and counted nouns (src/core/format), and that every
// place which used to carry its own now reads the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatDuration, plural } from '../../../src/core/format';
import * as cliFormat from '../../../src/cli/format';
import * as executorVerify from '../../../src/core/executors/verify';
import * as monitorFormat from '../../../src/core/monitor/format';
import * as reportFormat from '../../../src/core/report/format';
import * as viewFormat from '../../../src/extension/logic/format';

describe('formatDuration', () => {
  it('reads milliseconds, seconds, minutes and hours', () => {
    assert.equal(formatDuration(0), '0 ms');
    assert.equal(formatDuration(850.4), '850 ms');
    assert.equal(formatDuration(1_000), '1 s');
    assert.equal(formatDuration(12_345), '12.3 s');
    assert.equal(formatDuration(59_940), '59.9 s');
    assert.equal(formatDuration(59_960), '1 min 00 s');
    assert.equal(formatDuration(185_000), '3 min 05 s');
    assert.equal(formatDuration(3_599_400), '59 min 59 s');
    assert.equal(formatDuration(3_599_600), '1 h 00 min');
    assert.equal(formatDuration(7_800_000), '2 h 10 min');
    assert.equal(formatDuration(100 * 3_600_000), '100 h 00 min');
  });

  it('shows nothing for an impossible duration', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(formatDuration(bad), '');
  });
});

describe('formatBytes', () => {
  it('reads binary sizes with the familiar labels', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1_536), '2 KB');
    assert.equal(formatBytes(412 * 1024 * 1024), '412 MB');
    assert.equal(formatBytes(1024 ** 3), '1 GB');
    assert.equal(formatBytes(3.14 * 1024 ** 3), '3.1 GB');
    assert.equal(formatBytes(1024 ** 4), '1024 GB');
  });

  it('shows nothing for an impossible size', () => {
    for (const bad of [-1, Number.NaN, Number.NEGATIVE_INFINITY]) assert.equal(formatBytes(bad), '');
  });
});

describe('plural', () => {
  it('counts a noun, with an irregular plural when given', () => {
    assert.equal(plural(0, 'file'), '0 files');
    assert.equal(plural(1, 'file'), '1 file');
    assert.equal(plural(2, 'failed task'), '2 failed tasks');
    assert.equal(plural(3, 'entry', 'entries'), '3 entries');
  });
});

describe('one formatter everywhere', () => {
  it('the CLI, the executors, the monitor, the reports and the views use it', () => {
    assert.equal(cliFormat.formatDuration, formatDuration);
    assert.equal(executorVerify.formatDuration, formatDuration);
    assert.equal(reportFormat.formatDuration, formatDuration);
    assert.equal(viewFormat.formatDuration, formatDuration);
    assert.equal(monitorFormat.formatBytes, formatBytes);
    assert.equal(reportFormat.formatBytes, formatBytes);
    assert.equal(viewFormat.formatBytes, formatBytes);
    assert.equal(viewFormat.plural, plural);
  });
});
