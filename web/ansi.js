/* ansi.js: one log line with ANSI escapes (SGR: 16, 256 and truecolor colours, bold,
 * italic, underline, inverse) into DOM nodes. No innerHTML: text goes in as text nodes, so a
 * log cannot inject markup; colours outside the 16 classes are set through the CSSOM, which
 * the Content-Security-Policy allows (inline style attributes it does not). */
"use strict";
(function () {
  const CSI = /\x1b\[([0-9;:?]*)([A-Za-z])/g;

  function xterm256(n) {
    if (n < 16) return null; /* classes */
    if (n >= 232) {
      const v = 8 + (n - 232) * 10;
      return `rgb(${v},${v},${v})`;
    }
    n -= 16;
    const c = [Math.floor(n / 36), Math.floor(n / 6) % 6, n % 6].map((x) => (x ? 55 + x * 40 : 0));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  /* What a terminal would show: text after the last carriage return (a progress bar's
   * final state), keeping escapes. */
  function visible(line) {
    let s = line.endsWith("\r") ? line.slice(0, -1) : line;
    const cr = s.lastIndexOf("\r");
    return cr >= 0 ? s.slice(cr + 1) : s;
  }

  function applySgr(st, params) {
    const p = params === "" ? [0] : params.split(/[;:]/).map((x) => (x === "" ? 0 : +x));
    for (let i = 0; i < p.length; i++) {
      const c = p[i];
      if (c === 0) Object.assign(st, { fg: null, bg: null, fgc: null, bgc: null, b: false, i: false, u: false, inv: false });
      else if (c === 1) st.b = true;
      else if (c === 3) st.i = true;
      else if (c === 4) st.u = true;
      else if (c === 7) st.inv = true;
      else if (c === 22) st.b = false;
      else if (c === 23) st.i = false;
      else if (c === 24) st.u = false;
      else if (c === 27) st.inv = false;
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) { st.fg = c; st.fgc = null; }
      else if (c === 39) { st.fg = null; st.fgc = null; }
      else if ((c >= 40 && c <= 47) || (c >= 100 && c <= 107)) { st.bg = c; st.bgc = null; }
      else if (c === 49) { st.bg = null; st.bgc = null; }
      else if (c === 38 || c === 48) {
        let color = null, klass = null;
        if (p[i + 1] === 5) {
          const n = p[i + 2] | 0;
          if (n < 8) klass = (c === 38 ? 30 : 40) + n;
          else if (n < 16) klass = (c === 38 ? 90 : 100) + n - 8;
          else color = xterm256(n);
          i += 2;
        } else if (p[i + 1] === 2) {
          color = `rgb(${p[i + 2] & 255},${p[i + 3] & 255},${p[i + 4] & 255})`;
          i += 4;
        }
        if (c === 38) { st.fg = klass; st.fgc = color; } else { st.bg = klass; st.bgc = color; }
      }
    }
  }

  function span(st, text) {
    if (!st.fg && !st.bg && !st.fgc && !st.bgc && !st.b && !st.i && !st.u && !st.inv)
      return document.createTextNode(text);
    const el = document.createElement("span");
    let fg = st.fg, bg = st.bg, fgc = st.fgc, bgc = st.bgc;
    if (st.inv) { [fg, bg] = [bg && bg - 10, fg && fg + 10]; [fgc, bgc] = [bgc, fgc]; if (!fg && !fgc) fg = "inv-fg"; if (!bg && !bgc) bg = "inv-bg"; }
    const cls = [];
    if (fg) cls.push("a" + fg);
    if (bg) cls.push("a" + bg);
    if (st.b) cls.push("ab");
    if (st.i) cls.push("ai");
    if (st.u) cls.push("au");
    el.className = cls.join(" ");
    if (fgc) el.style.color = fgc;
    if (bgc) el.style.backgroundColor = bgc;
    el.textContent = text;
    return el;
  }

  /* Replaces EL's children with LINE rendered. */
  function render(line, el) {
    el.textContent = "";
    const s = visible(line);
    if (s.indexOf("\x1b") < 0) { el.textContent = s; return; }
    const st = {};
    let last = 0, m;
    CSI.lastIndex = 0;
    while ((m = CSI.exec(s))) {
      if (m.index > last) el.appendChild(span(st, s.slice(last, m.index)));
      if (m[2] === "m") applySgr(st, m[1]);
      last = CSI.lastIndex;
    }
    if (last < s.length) el.appendChild(span(st, s.slice(last)));
  }

  /* The line's text without escapes (for search and copying). */
  function plain(line) {
    return visible(line).replace(CSI, "");
  }

  window.SluiceAnsi = { render, plain, visible };
})();
