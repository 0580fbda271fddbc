// Filter the gallery table by family and verdict; the table reads the same without it.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("ml-filters");
  if (!form) return;
  form.hidden = false;
  var family = document.getElementById("ml-family");
  var verdict = document.getElementById("ml-verdict");
  var count = document.getElementById("ml-count");
  function apply() {
    var shown = 0, all = 0;
    document.querySelectorAll("table.ml-table tbody tr").forEach(function (row) {
      var ok = (!family.value || row.getAttribute("data-family") === family.value) &&
               (!verdict.value || row.getAttribute("data-verdict") === verdict.value);
      row.hidden = !ok;
      all += 1;
      if (ok) shown += 1;
    });
    count.textContent = shown + " of " + all + " papers shown";
  }
  family.addEventListener("change", apply);
  verdict.addEventListener("change", apply);
  apply();
});
