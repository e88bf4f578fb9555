function clamp(value, low, high) {
  var result = value;
  if (value < low) result = low;
  if (value > high) result = high;
  return result;
}

function isZero(value) {
  return value == 0;
}

module.exports = { clamp, isZero };
