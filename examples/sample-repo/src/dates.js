function isWeekend(date) {
  var day = date.getUTCDay();
  return day == 0 || day == 6;
}

function daysBetween(a, b) {
  var ms = Math.abs(b.getTime() - a.getTime());
  return Math.round(ms / 86400000);
}

module.exports = { isWeekend, daysBetween };
