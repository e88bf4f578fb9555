// Usage-limit recognition against messages the coding-agent CLIs really print (quoted from their
// issue trackers, see src/core/executors/usageLimit.ts), with a fixed clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectUsageLimit, parseResetTime } from '../../../src/core/executors/usageLimit';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

test('Claude Code: "usage limit reached|<epoch seconds>"', () => {
  const now = Date.UTC(2025, 7, 19, 14, 0);
  const report = detectUsageLimit('Working...\nClaude AI usage limit reached|1755615600\n', { failed: true, now });
  assert.ok(report);
  assert.equal(report.retryAt, 1755615600 * 1000);
  assert.match(report.evidence, /usage limit reached/);
});

test('Claude Code: "resets Feb 7, 11am (Asia/Seoul)" is read in the named zone', () => {
  const now = Date.UTC(2026, 1, 6, 9, 0);
  const report = detectUsageLimit("You've hit your limit - resets Feb 7, 11am (Asia/Seoul)", { failed: true, now });
  assert.equal(report?.retryAt, Date.UTC(2026, 1, 7, 2, 0), '11:00 in Seoul is 02:00 UTC');
});

test('Codex: "try again in 5 days 22 hours 11 minutes"', () => {
  const now = Date.UTC(2025, 8, 1, 12, 0);
  const output = "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11 minutes.";
  const report = detectUsageLimit(output, { failed: true, now });
  assert.equal(report?.retryAt, now + 5 * DAY + 22 * HOUR + 11 * MINUTE);
});

test('Gemini CLI: RESOURCE_EXHAUSTED without a reset time is detected without one', () => {
  const output = '[API Error: {"error":{"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}]';
  const report = detectUsageLimit(output, { failed: true, now: Date.UTC(2025, 0, 1) });
  assert.ok(report);
  assert.equal(report.retryAt, undefined);
});

test('"Please retry in 20.5s" gives a sub-minute reset', () => {
  const now = Date.UTC(2025, 0, 1);
  const report = detectUsageLimit('429 Too Many Requests. Please retry in 20.5s.', { failed: true, now });
  assert.equal(report?.retryAt, now + 20_500);
});

test('a successful run that talks about rate limits is not a usage limit; a failed one is', () => {
  const output = 'I added a rate limiter so the API returns 429 when a client sends too much.\nAll tests pass.';
  assert.equal(detectUsageLimit(output, { failed: false }), undefined);
  assert.ok(detectUsageLimit(output, { failed: true }), 'weak signs count when the command failed');
});

test('a strong sign in the last lines counts even when the CLI exited 0', () => {
  assert.ok(detectUsageLimit('partial work\nClaude AI usage limit reached|1755615600', { failed: false, now: Date.UTC(2025, 7, 19, 14, 0) }));
});

test('ordinary failures are not usage limits', () => {
  assert.equal(detectUsageLimit('TypeError: Cannot read properties of undefined\n    at main (index.js:3:9)\nexit 1', { failed: true }), undefined);
});

test('clock times without a date are the next such time in the given zone', () => {
  const morning = Date.UTC(2025, 5, 10, 10, 0);
  assert.equal(parseResetTime('Your limit resets 3pm', morning, 'UTC'), Date.UTC(2025, 5, 10, 15, 0));
  const evening = Date.UTC(2025, 5, 10, 16, 0);
  assert.equal(parseResetTime('Your limit resets 3pm', evening, 'UTC'), Date.UTC(2025, 5, 11, 15, 0));
  assert.equal(parseResetTime('limit will reset at 5:30 pm (Europe/Warsaw)', morning), Date.UTC(2025, 5, 10, 15, 30), 'Warsaw is UTC+2 in June');
});

test('ISO timestamps and JSON resets_at are understood', () => {
  const now = Date.UTC(2025, 7, 19, 12, 0);
  assert.equal(parseResetTime('Rate limit exceeded; resets at 2025-08-19T17:00:00Z', now), Date.UTC(2025, 7, 19, 17, 0));
  assert.equal(parseResetTime('{"type":"usage_limit_reached","resets_at": 1755622800}', now), 1755622800 * 1000);
});

test('implausible reset times are ignored', () => {
  const now = Date.UTC(2025, 0, 1);
  assert.equal(parseResetTime('try again in 400 days', now), undefined);
  assert.equal(parseResetTime('nothing to see here', now), undefined);
});
