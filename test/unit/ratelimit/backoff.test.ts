import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../src/core/ratelimit/backoff';
import { parseDurationValue, parseRetryAfterValue, retryAfterFromHeaders } from '../../../src/core/ratelimit/retryAfter';

const policy = { baseMs: 1_000, capMs: 30_000, multiplier: 2, jitter: 0.5 };

test('backoff doubles per consecutive failure and stays within the jitter band', () => {
  for (let failures = 1; failures <= 5; failures++) {
    const undithered = 1_000 * 2 ** (failures - 1);
    assert.equal(backoffDelay(failures, policy, () => 0), undithered, 'random 0 gives the full delay');
    const lowest = backoffDelay(failures, policy, () => 0.999999);
    assert.ok(lowest >= undithered * 0.5 && lowest <= undithered * 0.5 + 1, `failure ${failures}: ${lowest}`);
    for (let sample = 0; sample < 50; sample++) {
      const delay = backoffDelay(failures, policy);
      assert.ok(delay >= undithered * 0.5 && delay <= undithered, `failure ${failures}: ${delay} outside band`);
    }
  }
});

test('backoff is capped', () => {
  assert.equal(backoffDelay(20, policy, () => 0), 30_000);
  assert.equal(backoffDelay(20, { ...policy, jitter: 0 }, () => 0.7), 30_000);
});

test('Retry-After accepts delay-seconds and HTTP-dates', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfterValue('20', now), 20_000);
  assert.equal(parseRetryAfterValue('1.5', now), 1_500);
  assert.equal(parseRetryAfterValue('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfterValue('soon', now), undefined);
  assert.equal(parseRetryAfterValue(undefined, now), undefined);
});

test('retry hints come from retry-after-ms, retry-after, then provider reset headers', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250);
  assert.equal(retryAfterFromHeaders(new Headers({ 'Retry-After': '3' }), now), 3_000);
  const anthropic = new Headers({
    'anthropic-ratelimit-requests-reset': '2025-01-01T00:00:05Z',
    'anthropic-ratelimit-tokens-reset': '2025-01-01T00:00:12Z',
  });
  assert.equal(retryAfterFromHeaders(anthropic, now), 12_000);
  assert.equal(retryAfterFromHeaders({ 'x-ratelimit-reset-requests': '1m30s' }, now), 90_000);
  assert.equal(retryAfterFromHeaders(new Headers(), now), undefined);
  assert.equal(parseDurationValue('20ms'), 20);
  assert.equal(parseDurationValue('1h2m3.5s'), 3_723_500);
});
