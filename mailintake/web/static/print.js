// The printable 通报: its button opens the browser's print dialog (print or save as PDF).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
