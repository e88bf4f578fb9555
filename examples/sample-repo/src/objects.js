function isEmpty(object) {
  return Object.keys(object).length == 0;
}

function pick(object, keys) {
  var picked = {};
  for (var key of keys) {
    if (object[key] != undefined) picked[key] = object[key];
  }
  return picked;
}

module.exports = { isEmpty, pick };
