// The site's behaviour: charts (Vega-Lite, drawn by the bundled vegaEmbed), sortable and
// filterable tables, runs' plot data loaded by <script> (which file:// allows, unlike fetch),
// and the compare view. No request leaves the site.
"use strict";

const siteRuns = {};

function siteRun(data) {
  siteRuns[data.key] = data;
}

function embed(target, spec) {
  return vegaEmbed(target, spec, { renderer: "svg", actions: false }).catch((error) => console.error(error));
}

function renderCharts() {
  document.querySelectorAll("script[data-chart]").forEach((script) => {
    embed("#" + script.dataset.chart, JSON.parse(script.textContent));
  });
}

function loadRuns(keys, done) {
  const missing = keys.filter((key) => !siteRuns[key]);
  let left = missing.length;
  if (left === 0) {
    done();
    return;
  }
  missing.forEach((key) => {
    const script = document.createElement("script");
    script.src = "runs/" + encodeURIComponent(key) + ".js";
    script.onload = () => {
      left -= 1;
      if (left === 0) done();
    };
    script.onerror = () => console.error("no data file for run " + key);
    document.head.appendChild(script);
  });
}

// --- plots as dvc.yaml declares them, one chart per plot, every given run in it -------------

function plotValues(plot, runs) {
  const rows = [];
  runs.forEach((run) => {
    plot.series.forEach(([file, column]) => {
      (run.plots[file] || []).forEach((row) => {
        const point = { run: run.label, series: column };
        if (plot.template === "bar_horizontal") {
          point.value = row[plot.x];
          point.category = String(row[column]);
        } else {
          point.x = row[plot.x];
          point.y = row[column];
        }
        rows.push(point);
      });
    });
  });
  return rows;
}

function plotSpec(plot, runs) {
  const many = runs.length > 1;
  const several = plot.series.length > 1;
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: plot.title,
    width: 560,
    height: 280,
    data: { values: plotValues(plot, runs) },
    encoding: {},
  };
  const x = { field: "x", type: "quantitative", title: plot.x_label, scale: { zero: false } };
  const y = { field: "y", type: "quantitative", title: plot.y_label, scale: { zero: false } };
  if (plot.template === "scatter") {
    spec.mark = { type: "point", opacity: 0.45, size: 14 };
  } else if (plot.template === "bar_horizontal") {
    spec.mark = "bar";
    x.field = "value";
    x.scale = { zero: true };
    x.title = plot.x;
    y.field = "category";
    y.type = "nominal";
    y.sort = null;
    delete y.scale;
    y.title = plot.series[0][1];
    if (many) spec.encoding.yOffset = { field: "run", type: "nominal" };
  } else {
    spec.mark = { type: "line", point: true };
    if (plot.template === "months") {
      x.type = "ordinal";
      delete x.scale;
    }
  }
  spec.encoding.x = x;
  spec.encoding.y = y;
  if (many) spec.encoding.color = { field: "run", type: "nominal", title: "run" };
  else if (several) spec.encoding.color = { field: "series", type: "nominal", title: "" };
  if (many && several) spec.encoding.strokeDash = { field: "series", type: "nominal", title: "" };
  spec.encoding.tooltip = [{ field: "run" }, { field: "series" }, { field: x.field }, { field: y.field }];
  return spec;
}

function drawPlots(container, runs) {
  const plots = JSON.parse(document.getElementById("plots-data").textContent);
  const box = document.getElementById(container);
  box.replaceChildren();
  plots.forEach((plot, number) => {
    const spec = plotSpec(plot, runs);
    if (spec.data.values.length === 0) {
      // vega draws an empty quantitative axis with infinite extents: say so instead
      box.appendChild(cell("p", plot.title + ": no data at " + runs.map((run) => run.label).join(", "), "muted no-data"));
      return;
    }
    const div = document.createElement("div");
    div.className = "chart plot";
    div.id = container + "-" + number;
    box.appendChild(div);
    embed(div, spec);
  });
}

function sitePlots(container, keys) {
  loadRuns(keys, () => drawPlots(container, keys.map((key) => siteRuns[key])));
}

// --- tables -------------------------------------------------------------------------------

function cellValue(row, column) {
  const text = row.children[column].textContent.trim();
  const number = Number(text.replace(/,/g, ""));
  return text !== "" && !Number.isNaN(number) ? number : text.toLowerCase();
}

function sortable(table) {
  table.querySelectorAll("thead th").forEach((th, column) => {
    if (th.hasAttribute("data-nosort")) return;
    th.tabIndex = 0;
    th.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const [left, right] = [cellValue(a, column), cellValue(b, column)];
        const order = typeof left === typeof right ? (left < right ? -1 : left > right ? 1 : 0) : typeof left === "number" ? -1 : 1;
        return ascending ? order : -order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

function filterable(input) {
  const table = document.getElementById(input.dataset.filter);
  input.addEventListener("input", () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.from(table.tBodies[0].rows).forEach((row) => {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
    });
  });
}

function picks() {
  const link = document.getElementById("compare-link");
  if (!link) return;
  document.querySelectorAll("input.pick").forEach((box) => {
    box.addEventListener("change", () => {
      const chosen = Array.from(document.querySelectorAll("input.pick:checked")).map((b) => b.value);
      const ready = chosen.length === 2;
      link.classList.toggle("disabled", !ready);
      link.href = ready ? "compare.html?a=" + encodeURIComponent(chosen[0]) + "&b=" + encodeURIComponent(chosen[1]) : "compare.html";
    });
  });
}

// --- compare ------------------------------------------------------------------------------

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text === undefined || text === null ? "–" : String(text);
  if (className) element.className = className;
  return element;
}

function comparisonTable(a, b) {
  const table = document.createElement("table");
  table.id = "comparison-table";
  const head = table.createTHead().insertRow();
  [["", ""], [a.label, "run-a"], [b.label, "run-b"]].forEach(([text, name]) => head.appendChild(cell("th", text, name)));
  const body = table.createTBody();
  const add = (name, left, right, className) => {
    const row = body.insertRow();
    row.className = className;
    row.dataset.name = name;
    row.append(cell("th", name), cell("td", left), cell("td", right));
  };
  ["kind", "commit", "version", "time", "subject"].forEach((key) => add(key, a[key], b[key], "about"));
  const metrics = Array.from(new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)]));
  metrics.forEach((key) => add(key, a.metrics[key], b.metrics[key], "metric"));
  const params = Array.from(new Set([...Object.keys(a.params), ...Object.keys(b.params)])).sort();
  const differ = params.filter((key) => JSON.stringify(a.params[key]) !== JSON.stringify(b.params[key]));
  differ.forEach((key) => add(key, a.params[key], b.params[key], "param"));
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = differ.length + " params differ; " + (params.length - differ.length) + " are the same in both.";
  return [table, note];
}

function siteCompare() {
  const runs = JSON.parse(document.getElementById("runs-data").textContent);
  const query = new URLSearchParams(window.location.search);
  const selects = [document.getElementById("run-a"), document.getElementById("run-b")];
  const keys = runs.map((run) => run.key);
  const mains = runs.filter((run) => run.kind === "main").map((run) => run.key);
  const defaults = [query.get("a") || mains[mains.length - 1] || keys[0], query.get("b") || mains[mains.length - 2] || keys[1]];
  selects.forEach((select, side) => {
    runs.forEach((run) => {
      const option = cell("option", run.label + " · " + run.kind + (run.version ? " · " + run.version : "") + " · rmse " + run.metrics.rmse);
      option.value = run.key;
      select.appendChild(option);
    });
    if (keys.includes(defaults[side])) select.value = defaults[side];
    select.addEventListener("change", show);
  });
  function show() {
    const chosen = selects.map((select) => select.value);
    if (chosen.some((key) => !key)) return;
    loadRuns(chosen, () => {
      const [a, b] = chosen.map((key) => siteRuns[key]);
      document.getElementById("comparison").replaceChildren(...comparisonTable(a, b));
      drawPlots("compare-plots", [a, b]);
    });
  }
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  renderCharts();
  document.querySelectorAll("table.sortable").forEach(sortable);
  document.querySelectorAll("input[data-filter]").forEach(filterable);
  picks();
});
