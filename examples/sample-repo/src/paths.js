function extension(fileName) {
  var dot = fileName.lastIndexOf('.');
  if (dot == -1) return '';
  return fileName.slice(dot + 1);
}

function basename(path) {
  var parts = path.split('/');
  return parts[parts.length - 1];
}

module.exports = { extension, basename };
