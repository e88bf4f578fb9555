function capitalize(text) {
  if (text == '') return text;
  var first = text[0].toUpperCase();
  return first + text.slice(1);
}

function isBlank(text) {
  return text.trim().length == 0;
}

module.exports = { capitalize, isBlank };
