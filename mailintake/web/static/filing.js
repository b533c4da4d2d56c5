// /pieces/new: the correspondents of the chosen unit only, and the subject prefilled
// from the chosen column's format (unit, received date, author) while the clerk has
// not written one of their own.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("new-piece-form");
  if (!form) { return; }
  var unit = form.elements.unit, who = form.elements.correspondent, name = form.elements.name;
  var column = form.elements.column, subject = form.elements.subject;
  var received = form.elements.received;
  var filled = "";
  var weeks = JSON.parse(form.getAttribute("data-weeks") || "{}");

  function people() {
    var groups = who.querySelectorAll("optgroup");
    for (var i = 0; i < groups.length; i++) {
      var mine = groups[i].getAttribute("data-unit") === unit.value;
      groups[i].hidden = !mine;
      groups[i].disabled = !mine;
    }
    var chosen = who.options[who.selectedIndex];
    if (chosen && chosen.parentNode.disabled) { who.value = ""; }
  }

  function hint() {
    var option = column.options[column.selectedIndex];
    if (!option || !unit.value || (subject.value && subject.value !== filled)) { return; }
    var format = option.getAttribute("data-format") || "";
    var author = name.value.trim() || who.value;
    filled = format.replace("{单位}", unit.value)
      .replace("{日期}", (received.value || "").replace(/-/g, "."))
      .replace("{作者}", author).replace("{周次}", weeks[received.value] || "")
      .replace("{标题}", "");
    subject.value = filled;
  }

  unit.addEventListener("change", function () { people(); hint(); });
  [who, column, received].forEach(function (el) { el.addEventListener("change", hint); });
  name.addEventListener("input", hint);
  people();
});
