function last(items) {
  var count = items.length;
  if (count == 0) return undefined;
  return items[count - 1];
}

function unique(items) {
  var seen = new Set(items);
  return Array.from(seen);
}

module.exports = { last, unique };
