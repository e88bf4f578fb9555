// The verify command of the quick start: every module must still behave after a fix.
const assert = require('assert');
const { clamp, isZero } = require('../src/math');
const { capitalize, isBlank } = require('../src/strings');
const { last, unique } = require('../src/arrays');
const { isWeekend, daysBetween } = require('../src/dates');
const { isEmpty, pick } = require('../src/objects');
const { isEven, sum } = require('../src/numbers');
const { extension, basename } = require('../src/paths');
const { toHex, isGray } = require('../src/colors');

assert.equal(clamp(5, 0, 3), 3);
assert.equal(isZero(0), true);
assert.equal(capitalize('swarm'), 'Swarm');
assert.equal(isBlank('  '), true);
assert.equal(last([1, 2, 3]), 3);
assert.deepEqual(unique([1, 1, 2]), [1, 2]);
assert.equal(isWeekend(new Date(Date.UTC(2026, 10, 22))), true);
assert.equal(daysBetween(new Date(0), new Date(86400000 * 2)), 2);
assert.equal(isEmpty({}), true);
assert.deepEqual(pick({ a: 1, b: 2 }, ['a']), { a: 1 });
assert.equal(isEven(4), true);
assert.equal(sum([1, 2, 3]), 6);
assert.equal(extension('a.ts'), 'ts');
assert.equal(basename('a/b/c.txt'), 'c.txt');
assert.equal(toHex(255, 0, 16), '#ff0010');
assert.equal(isGray(1, 1, 1), true);
console.log('sample tests passed');
