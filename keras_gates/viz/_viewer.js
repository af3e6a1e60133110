"use strict";
// The gate viewer. Reads the JSON written by keras_gates.viewer.page_data
// from #gate-data and builds the page; no network, no libraries.
(function () {
  const all = JSON.parse(document.getElementById("gate-data").textContent);
  // One layer's data, or several (`layers`), each shaped as one layer's.
  const layers = all.layers || [all];
  let data = layers[all.start.layer || 0];
  let units = data.units;
  const state = {
    layer: all.start.layer || 0,
    sequence: all.start.sequence,
    gate: all.start.gate,
    unit: all.start.unit,
    span: null,
    anchor: null,
    dragging: false,
    view: null, // the overview's steps [first, last]; null: all
  };
  const decoded = new Map();
  function useLayer(index) {
    state.layer = index;
    data = layers[index];
    units = data.units;
    if (!data.gates.includes(state.gate)) state.gate = data.start.gate;
    state.unit = Math.min(state.unit, units - 1);
  }
  // A link may pick what to show: page.html#gate=cell&unit=17&sequence=0
  // (and &layer=1 on a page of several layers).
  function readHash() {
    const asked = new URLSearchParams(window.location.hash.slice(1));
    const layer = Number(asked.get("layer"));
    if (asked.has("layer") && Number.isInteger(layer) && layer >= 0 && layer < layers.length) {
      useLayer(layer);
    }
    if (data.gates.includes(asked.get("gate"))) state.gate = asked.get("gate");
    for (const [key, limit] of [["unit", units], ["sequence", data.sequences.length]]) {
      const value = Number(asked.get(key));
      if (asked.has(key) && Number.isInteger(value) && value >= 0 && value < limit) {
        state[key] = value;
      }
    }
  }
  readHash();

  // -- data -----------------------------------------------------------------
  function codesOf(sequence, gate) {
    const key = state.layer + "/" + sequence + "/" + gate;
    if (!decoded.has(key)) {
      const text = atob(data.sequences[sequence].codes[gate]);
      const codes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
      decoded.set(key, codes);
    }
    return decoded.get(key);
  }
  function code(gate, step, unit) {
    return codesOf(state.sequence, gate)[step * units + unit];
  }
  function rangeOf(gate, unit) {
    return [data.ranges[gate][0][unit], data.ranges[gate][1][unit]];
  }
  function valueOf(gate, c, unit) {
    if (c === data.masked) return NaN;
    const [low, high] = rangeOf(gate, unit);
    return low + (c / data.levels) * (high - low);
  }
  function colourAt(scale, position) {
    const stops = data.stops[scale];
    position = Math.min(Math.max(position, 0), 1);
    for (let s = 0; s + 1 < stops.length; s++) {
      const [p0, c0] = stops[s];
      const [p1, c1] = stops[s + 1];
      if (position <= p1) {
        const share = (position - p0) / (p1 - p0);
        return c0.map((a, k) => Math.floor(a + (c1[k] - a) * share + 0.5));
      }
    }
    return stops[stops.length - 1][1];
  }
  function css(rgb) {
    return "rgb(" + rgb[0] + ", " + rgb[1] + ", " + rgb[2] + ")";
  }
  function dark(rgb) {
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 140;
  }

  // -- page -----------------------------------------------------------------
  function element(tag, attributes, parent) {
    const node = document.createElement(tag);
    Object.assign(node, attributes || {});
    if (parent) parent.appendChild(node);
    return node;
  }
  const controls = element("div", { id: "controls" }, document.body);
  const sequenceLabel = element("label", { textContent: "sequence" }, controls);
  const sequenceMenu = element("select", { id: "sequence" }, sequenceLabel);
  data.sequences.forEach((s, i) =>
    element("option", { value: String(i), textContent: s.name }, sequenceMenu)
  );
  const layerLabel = element("label", { textContent: "layer" }, controls);
  const layerMenu = element("select", { id: "layer" }, layerLabel);
  layers.forEach((l, i) =>
    element("option", { value: String(i), textContent: l.name || "layer " + i }, layerMenu)
  );
  if (layers.length < 2) layerLabel.style.display = "none";
  const gateLabel = element("label", { textContent: "gate" }, controls);
  const gateMenu = element("select", { id: "gate" }, gateLabel);
  sequenceMenu.value = String(state.sequence);
  const unitLabel = element("label", { textContent: "unit" }, controls);
  const unitBox = element(
    "input",
    { id: "unit", type: "number", min: "0", max: String(units - 1), value: String(state.unit) },
    unitLabel
  );
  const unitCount = element("span", { className: "axis" }, unitLabel);
  function fillMenus() {
    gateMenu.textContent = "";
    data.gates.forEach((g) =>
      element("option", { value: g, textContent: data.labels[g] }, gateMenu)
    );
    gateMenu.value = state.gate;
    layerMenu.value = String(state.layer);
    unitBox.max = String(units - 1);
    unitBox.value = String(state.unit);
    unitCount.textContent = "of " + units;
  }
  fillMenus();
  const legend = element("div", { id: "legend" }, controls);
  const legendLow = element("span", { id: "legend-low" }, legend);
  const legendBar = element("canvas", { id: "legend-bar", width: 160, height: 14 }, legend);
  const legendHigh = element("span", { id: "legend-high" }, legend);
  const spanInfo = element("span", { id: "span-info", className: "axis" }, controls);
  const clear = element("button", { id: "clear-span", textContent: "clear selection" }, controls);
  const note = element("p", { id: "note" }, document.body);
  function fillNote() {
    note.textContent = data.note ? "GRU: " + data.note : "";
    note.style.display = data.note ? "" : "none";
  }
  fillNote();
  element(
    "p",
    {
      className: "axis",
      textContent:
        "Hover a token for every gate of the unit at that step; drag over " +
        "tokens (or shift-click) to select a span and rank the units that " +
        "are on inside it and off outside it.",
    },
    document.body
  );
  const text = element("div", { id: "text" }, document.body);
  const tooltip = element("div", { id: "tooltip" }, document.body);
  const panels = element("div", { id: "panels" }, document.body);
  const overviewBox = element("div", { id: "overview-box" }, panels);
  const overviewTitle = element("h2", {}, overviewBox);
  const zoom = element("div", { className: "axis", id: "zoom" }, overviewBox);
  element("span", { textContent: "steps " }, zoom);
  const viewFrom = element("input", { id: "view-from", type: "number", min: "0" }, zoom);
  element("span", { textContent: " to " }, zoom);
  const viewTo = element("input", { id: "view-to", type: "number", min: "0" }, zoom);
  const viewAll = element("button", { id: "view-all", textContent: "all steps" }, zoom);
  const overview = element("canvas", { id: "overview" }, overviewBox);
  const overviewAxis = element("div", { className: "axis", id: "overview-axis" }, overviewBox);
  const matchBox = element("div", { id: "match-box" }, panels);
  element("h2", { textContent: "Units on in the selected span" }, matchBox);
  const matchHelp = element(
    "div",
    {
      className: "axis",
      textContent:
        "score = mean inside the span - mean outside it, on the gate's " +
        "colour scale (0..1)",
    },
    matchBox
  );
  const matchList = element("ol", { id: "match-list" }, matchBox);
  const thresholds = element("div", { className: "axis" }, matchBox);
  element("span", { textContent: "match: on \u2265 " }, thresholds);
  const matchOn = element("input", { id: "match-on", type: "number", step: "0.05", value: "0.5" }, thresholds);
  element("span", { textContent: " in the span, \u2264 " }, thresholds);
  const matchOff = element("input", { id: "match-off", type: "number", step: "0.05", value: "0.5" }, thresholds);
  element("span", { textContent: " at the steps just before and after it" }, thresholds);
  const matchCount = element("div", { id: "match-count" }, matchBox);
  const topBox = element("div", { id: "top-box" }, panels);
  element("h2", { textContent: "The unit's highest steps" }, topBox);
  const topControls = element("div", { className: "axis" }, topBox);
  element("span", { textContent: "top " }, topControls);
  const topK = element("input", { id: "top-k", type: "number", min: "1", max: "50", value: "5" }, topControls);
  element(
    "span",
    { textContent: " excerpts of all sequences, each 5 steps either side of a step where the gate is highest (none within 5 steps of a higher one)" },
    topControls
  );
  const topList = element("ol", { id: "top-list" }, topBox);

  function separator() {
    const tokens = data.sequences[state.sequence].tokens;
    return tokens.every((t) => t.length <= 1) ? "" : " ";
  }
  function buildText() {
    text.textContent = "";
    const tokens = data.sequences[state.sequence].tokens;
    const gap = separator();
    const fragment = document.createDocumentFragment();
    tokens.forEach((token, step) => {
      if (step > 0 && gap) fragment.appendChild(document.createTextNode(gap));
      const span = document.createElement("span");
      span.className = "tok";
      span.dataset.step = String(step);
      span.textContent = token === "\n" ? "\u21b5\n" : token;
      fragment.appendChild(span);
    });
    text.appendChild(fragment);
  }
  function tokenNodes() {
    return text.getElementsByClassName("tok");
  }

  // -- painting -------------------------------------------------------------
  function paintText() {
    const nodes = tokenNodes();
    const scale = data.scales[state.gate];
    for (let step = 0; step < nodes.length; step++) {
      const node = nodes[step];
      const c = code(state.gate, step, state.unit);
      const masked = c === data.masked;
      node.classList.toggle("masked", masked);
      if (masked) {
        node.style.backgroundColor = "";
        node.style.color = "";
      } else {
        const rgb = colourAt(scale, c / data.levels);
        node.style.backgroundColor = css(rgb);
        node.style.color = dark(rgb) ? "#fff" : "#000";
      }
      const inSpan = state.span && step >= state.span[0] && step <= state.span[1];
      node.classList.toggle("selected", Boolean(inSpan));
    }
  }
  function paintLegend() {
    const [low, high] = rangeOf(state.gate, state.unit);
    const scale = data.scales[state.gate];
    const context = legendBar.getContext("2d");
    for (let x = 0; x < legendBar.width; x++) {
      context.fillStyle = css(colourAt(scale, x / (legendBar.width - 1)));
      context.fillRect(x, 0, 1, legendBar.height);
    }
    legendLow.textContent = low.toPrecision(3);
    legendHigh.textContent = high.toPrecision(3);
  }
  // The overview shows steps view[0]..view[1] in at most MAX_COLUMNS
  // columns: each column the mean (on the colour scale) of its steps.
  const MAX_COLUMNS = 900;
  const geometry = { column: 1, row: 1, first: 0, bins: 1, count: 1 };
  function viewRange() {
    return state.view || [0, data.time - 1];
  }
  function binOf(step) {
    return Math.floor(((step - geometry.first) * geometry.bins) / geometry.count);
  }
  function paintOverview() {
    const [first, last] = viewRange();
    const count = last - first + 1;
    const bins = Math.min(count, MAX_COLUMNS);
    Object.assign(geometry, { first: first, bins: bins, count: count });
    geometry.column = Math.max(1, Math.min(4, Math.floor(MAX_COLUMNS / bins)));
    geometry.row = Math.max(1, Math.min(8, Math.floor(384 / units)));
    overview.width = bins * geometry.column;
    overview.height = units * geometry.row;
    const context = overview.getContext("2d");
    const image = context.createImageData(overview.width, overview.height);
    const codes = codesOf(state.sequence, state.gate);
    const scale = data.scales[state.gate];
    for (let unit = 0; unit < units; unit++) {
      for (let bin = 0; bin < bins; bin++) {
        const from = first + Math.floor((bin * count) / bins);
        const to = first + Math.floor(((bin + 1) * count) / bins);
        let sum = 0, n = 0;
        for (let step = from; step < to; step++) {
          const c = codes[step * units + unit];
          if (c === data.masked) continue;
          sum += c / data.levels;
          n++;
        }
        const rgb = n ? colourAt(scale, sum / n) : [200, 200, 200];
        for (let dy = 0; dy < geometry.row; dy++) {
          for (let dx = 0; dx < geometry.column; dx++) {
            const at = ((unit * geometry.row + dy) * overview.width + bin * geometry.column + dx) * 4;
            image.data[at] = rgb[0];
            image.data[at + 1] = rgb[1];
            image.data[at + 2] = rgb[2];
            image.data[at + 3] = 255;
          }
        }
      }
    }
    context.putImageData(image, 0, 0);
    context.strokeStyle = "#e6550d";
    context.lineWidth = 1;
    context.strokeRect(0.5, state.unit * geometry.row + 0.5, overview.width - 1, Math.max(geometry.row - 1, 1));
    if (state.span && state.span[1] >= first && state.span[0] <= last) {
      const a = binOf(Math.max(state.span[0], first));
      const b = binOf(Math.min(state.span[1], last));
      context.fillStyle = "rgba(230, 85, 13, 0.25)";
      context.fillRect(a * geometry.column, 0, (b - a + 1) * geometry.column, overview.height);
    }
    overviewTitle.textContent = data.labels[state.gate] + ": units x steps";
    viewFrom.value = String(first);
    viewTo.value = String(last);
    viewFrom.max = viewTo.max = String(data.time - 1);
    const per = count / bins;
    overviewAxis.textContent =
      "rows: units 0.." + (units - 1) + " (top to bottom); columns: steps " + first + ".." + last +
      (per > 1 ? ", " + per.toFixed(per % 1 ? 2 : 0) + " steps per column (their mean)" : "") +
      "; candidate, cell and hidden on each unit's own range; click a row to pick its unit";
  }
  function remember() {
    const hash =
      "#gate=" + state.gate + "&unit=" + state.unit + "&sequence=" + state.sequence +
      (layers.length > 1 ? "&layer=" + state.layer : "");
    if (window.location.hash === hash) return;
    try {
      history.replaceState(null, "", hash);
    } catch (error) {
      // A sandboxed frame (the notebook's inline viewer) has no URL to keep.
    }
  }
  function paint() {
    remember();
    paintText();
    paintLegend();
    paintOverview();
    rankSpan();
    rankTop();
  }

  // -- the span match -------------------------------------------------------
  function rankSpan() {
    matchList.textContent = "";
    if (!state.span) {
      spanInfo.textContent = "no span selected";
      matchCount.textContent = "";
      matchCount.dataset.units = "";
      return;
    }
    const [first, last] = state.span;
    spanInfo.textContent = "span: steps " + first + ".." + last;
    const codes = codesOf(state.sequence, state.gate);
    const scores = [];
    for (let unit = 0; unit < units; unit++) {
      let inside = 0, inCount = 0, outside = 0, outCount = 0;
      for (let step = 0; step < data.time; step++) {
        const c = codes[step * units + unit];
        if (c === data.masked) continue;
        if (step >= first && step <= last) {
          inside += c / data.levels;
          inCount++;
        } else {
          outside += c / data.levels;
          outCount++;
        }
      }
      if (!inCount) continue;
      const meanIn = inside / inCount;
      const meanOut = outCount ? outside / outCount : 0;
      scores.push({ unit: unit, score: meanIn - meanOut, meanIn: meanIn, meanOut: meanOut });
    }
    scores.sort((a, b) => b.score - a.score || a.unit - b.unit);
    const on = Number(matchOn.value), off = Number(matchOff.value);
    const matching = scores.filter((s) => matches(codes, s.unit, first, last, on, off));
    matchCount.textContent =
      matching.length + " of " + units + " units match" +
      (matching.length ? ": " + matching.map((s) => s.unit).join(", ") : "");
    matchCount.dataset.units = matching.map((s) => s.unit).join(",");
    scores.slice(0, 10).forEach((s) => {
      const item = element(
        "li",
        {
          textContent:
            "unit " + s.unit + ": " + s.score.toFixed(3) +
            " (in " + s.meanIn.toFixed(3) + ", out " + s.meanOut.toFixed(3) + ")",
        },
        matchList
      );
      item.dataset.unit = String(s.unit);
      item.addEventListener("click", () => setUnit(s.unit));
    });
  }

  // LSTMVis's match: on (>= on) at every valid step of the span, off (<=
  // off) at the valid steps just before and just after it.
  function matches(codes, unit, first, last, on, off) {
    for (let step = first; step <= last; step++) {
      const c = codes[step * units + unit];
      if (c !== data.masked && valueOf(state.gate, c, unit) < on) return false;
    }
    for (const step of [first - 1, last + 1]) {
      if (step < 0 || step >= data.time) continue;
      const c = codes[step * units + unit];
      if (c !== data.masked && valueOf(state.gate, c, unit) > off) return false;
    }
    return true;
  }

  // -- the unit's top excerpts ----------------------------------------------
  const RADIUS = 5;
  function rankTop() {
    topList.textContent = "";
    const k = Math.max(1, Math.min(50, Math.floor(Number(topK.value)) || 5));
    const found = [];
    for (let sequence = 0; sequence < data.sequences.length; sequence++) {
      const codes = codesOf(sequence, state.gate);
      for (let step = 0; step < data.time; step++) {
        const c = codes[step * units + state.unit];
        if (c !== data.masked) found.push([c, sequence, step]);
      }
    }
    found.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
    const chosen = [];
    for (const [c, sequence, step] of found) {
      if (chosen.length === k) break;
      if (chosen.some((x) => x[1] === sequence && Math.abs(x[2] - step) <= RADIUS)) continue;
      chosen.push([c, sequence, step]);
    }
    const tokens = (s) => data.sequences[s].tokens;
    for (const [c, sequence, step] of chosen) {
      const item = element("li", {}, topList);
      item.dataset.sequence = String(sequence);
      item.dataset.step = String(step);
      const words = tokens(sequence);
      const gap = words.every((t) => t.length <= 1) ? "" : " ";
      const before = words.slice(Math.max(0, step - RADIUS), step).join(gap);
      const after = words.slice(step + 1, step + 1 + RADIUS).join(gap);
      element(
        "span",
        { className: "axis", textContent: data.sequences[sequence].name + ", step " + step + ", " + valueOf(state.gate, c, state.unit).toFixed(3) + ": " },
        item
      );
      element("span", { textContent: before + gap }, item);
      element("b", { textContent: words[step] }, item);
      element("span", { textContent: gap + after }, item);
      item.addEventListener("click", () => {
        if (state.sequence !== sequence) {
          state.sequence = sequence;
          sequenceMenu.value = String(sequence);
          state.span = null;
          state.anchor = null;
          buildText();
        }
        setSpan(step, step);
        paint();
      });
    }
  }

  // -- interaction ----------------------------------------------------------
  function setUnit(unit) {
    unit = Math.max(0, Math.min(units - 1, Math.floor(Number(unit)) || 0));
    state.unit = unit;
    unitBox.value = String(unit);
    remember();
    paintText();
    paintLegend();
    paintOverview();
    rankTop();
  }
  function setSpan(a, b) {
    state.span = [Math.min(a, b), Math.max(a, b)];
    paintText();
    paintOverview();
    rankSpan();
  }
  function stepOf(target) {
    return target && target.classList && target.classList.contains("tok")
      ? Number(target.dataset.step)
      : null;
  }
  function showTooltip(step, event) {
    const tokens = data.sequences[state.sequence].tokens;
    const lines = [
      "step " + step + "  token " + JSON.stringify(tokens[step]),
      "unit " + state.unit,
    ];
    const width = Math.max(...data.gates.map((g) => g.length)) + 2;
    for (const gate of data.gates) {
      const value = valueOf(gate, code(gate, step, state.unit), state.unit);
      lines.push(gate.padEnd(width) + (Number.isNaN(value) ? "masked" : value.toFixed(3)));
    }
    if (data.note) lines.push("", "GRU: " + data.note);
    tooltip.textContent = lines.join("\n");
    tooltip.style.display = "block";
    const x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 4);
    tooltip.style.left = Math.max(0, x) + "px";
    tooltip.style.top = event.clientY + 16 + "px";
  }
  text.addEventListener("mouseover", (event) => {
    const step = stepOf(event.target);
    if (step === null) return;
    showTooltip(step, event);
    if (state.dragging) setSpan(state.anchor, step);
  });
  text.addEventListener("mouseleave", () => (tooltip.style.display = "none"));
  text.addEventListener("mousedown", (event) => {
    const step = stepOf(event.target);
    if (step === null) return;
    event.preventDefault();
    if (event.shiftKey && state.anchor !== null) {
      setSpan(state.anchor, step);
      return;
    }
    state.anchor = step;
    state.dragging = true;
    setSpan(step, step);
  });
  document.addEventListener("mouseup", () => (state.dragging = false));
  overview.addEventListener("click", (event) => {
    const box = overview.getBoundingClientRect();
    setUnit(Math.floor((event.clientY - box.top) / geometry.row));
  });
  unitBox.addEventListener("input", () => setUnit(unitBox.value));
  gateMenu.addEventListener("change", () => {
    state.gate = gateMenu.value;
    paint();
  });
  layerMenu.addEventListener("change", () => {
    useLayer(Number(layerMenu.value));
    fillMenus();
    fillNote();
    paint();
  });
  for (const box of [matchOn, matchOff]) box.addEventListener("input", rankSpan);
  topK.addEventListener("input", rankTop);
  function setView() {
    let first = Math.floor(Number(viewFrom.value)) || 0;
    let last = Math.floor(Number(viewTo.value));
    if (!Number.isFinite(last)) last = data.time - 1;
    first = Math.max(0, Math.min(first, data.time - 1));
    last = Math.max(first, Math.min(last, data.time - 1));
    state.view = first === 0 && last === data.time - 1 ? null : [first, last];
    paintOverview();
  }
  viewFrom.addEventListener("change", setView);
  viewTo.addEventListener("change", setView);
  viewAll.addEventListener("click", () => {
    state.view = null;
    paintOverview();
  });
  sequenceMenu.addEventListener("change", () => {
    state.sequence = Number(sequenceMenu.value);
    state.span = null;
    state.anchor = null;
    buildText();
    paint();
  });
  window.addEventListener("hashchange", () => {
    const sequence = state.sequence;
    readHash();
    fillMenus();
    fillNote();
    sequenceMenu.value = String(state.sequence);
    if (state.sequence !== sequence) {
      state.span = null;
      state.anchor = null;
      buildText();
    }
    paint();
  });
  clear.addEventListener("click", () => {
    state.span = null;
    state.anchor = null;
    paint();
  });

  buildText();
  paint();
  window.gateViewer = { state: state, ready: true, builtAt: performance.now() };
  // The first frame with the viewer on screen (for experiments.viewer_speed).
  requestAnimationFrame(() =>
    setTimeout(() => (window.gateViewer.shownAt = performance.now()), 0)
  );
})();
