function isEven(value) {
  return value % 2 == 0;
}

function sum(values) {
  var total = 0;
  for (var value of values) total += value;
  return total;
}

module.exports = { isEven, sum };
