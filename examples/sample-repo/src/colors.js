function toHex(red, green, blue) {
  var parts = [red, green, blue].map((part) => part.toString(16).padStart(2, '0'));
  return '#' + parts.join('');
}

function isGray(red, green, blue) {
  return red == green && green == blue;
}

module.exports = { toHex, isGray };
