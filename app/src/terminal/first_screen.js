(function () {
  var V = 2, ATTACH = 7, INPUT = 1, OUTPUT = 129, WS = "/ws/terminal";
  var KEYS = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A", ArrowDown: "\x1b[B",
    ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D", Home: "\x1b[H", End: "\x1b[F", Delete: "\x1b[3~" };
  var enc = new TextEncoder(), dec = new TextDecoder();
  var sock = null, id = null, frames = [], taken = false, pre = null, shown = null, early = false;
  // Keys typed before the socket is open and attached (the prompt the page came with shows
  // before then), sent right after the attach.
  var typed = "";
  var lines, row, col, mode, csi;
  function clear() { lines = ["starting your sandbox\u2026", ""]; row = 1; col = 0; mode = 0; csi = ""; }
  clear();

  function frame(kind, text) {
    var b = enc.encode(text), f = new Uint8Array(b.length + 2);
    f[0] = V; f[1] = kind; f.set(b, 2);
    return f;
  }
  function send(text) {
    if (taken) return;
    if (sock && sock.readyState === 1 && id) sock.send(frame(INPUT, text));
    else if (sock) typed += text;
  }
  function put(c) {
    var l = lines[row];
    while (l.length < col) l += " ";
    lines[row] = l.slice(0, col) + c + l.slice(col + 1);
    col++;
  }
  function control(p, f) {
    var n = parseInt(p, 10) || 1, l = lines[row];
    if (f === "K") lines[row] = p === "2" ? "" : p === "1" ? " ".repeat(col) + l.slice(col) : l.slice(0, col);
    else if (f === "P") lines[row] = l.slice(0, col) + l.slice(col + n);
    else if (f === "@") lines[row] = l.slice(0, col) + " ".repeat(n) + l.slice(col);
    else if (f === "C") col += n;
    else if (f === "D") col = Math.max(0, col - n);
    else if (f === "J" && (p === "2" || p === "3")) { lines = [""]; row = 0; col = 0; }
    else if (f === "H") { row = Math.min(lines.length - 1, (parseInt(p, 10) || 1) - 1); col = (parseInt(p.split(";")[1], 10) || 1) - 1; }
  }
  // Text, carriage returns, line feeds, backspaces and the few CSI sequences readline uses;
  // every other escape sequence (colours, OSC titles and marks) is skipped.
  function write(text) {
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (mode === 1) mode = c === "[" ? 2 : c === "]" ? 3 : c === "(" || c === ")" ? 4 : 0, csi = "";
      else if (mode === 2) { if (c >= "@" && c <= "~") { control(csi, c); mode = 0; } else csi += c; }
      else if (mode === 3) mode = c === "\x07" ? 0 : c === "\x1b" ? 5 : 3;
      else if (mode === 4 || mode === 5) mode = 0;
      else if (c === "\x1b") mode = 1;
      else if (c === "\r") col = 0;
      else if (c === "\n") { row++; col = 0; if (row === lines.length) lines.push(""); }
      else if (c === "\b") col = Math.max(0, col - 1);
      else if (c === "\t") col = (col + 8) & ~7;
      else if (c >= " ") put(c);
    }
    if (lines.length > 200) { row -= lines.length - 200; lines = lines.slice(-200); }
  }
  // Shell output is text here, never markup: it goes into text nodes.
  function render() {
    var host = document.querySelector(".terminal-host");
    if (!host) return;
    if (!pre) {
      pre = document.createElement("pre");
      pre.className = "terminal-first";
      pre.tabIndex = 0;
      pre.setAttribute("aria-label", "Your sandbox shell");
      pre.addEventListener("keydown", key);
      pre.addEventListener("paste", function (e) {
        e.preventDefault();
        send(e.clipboardData.getData("text").replace(/\r?\n/g, "\r"));
      });
      host.appendChild(pre);
      var a = document.activeElement;
      if (!a || a === document.body || a.closest("[data-terminal-panel]")) pre.focus({ preventScroll: true });
    }
    var l = lines[row], cur = document.createElement("span");
    cur.className = "terminal-first-cursor";
    cur.textContent = l[col] || " ";
    pre.replaceChildren(lines.slice(0, row).concat(l.slice(0, col)).join("\n"), cur,
      l.slice(col + 1) + (row + 1 < lines.length ? "\n" + lines.slice(row + 1).join("\n") : ""));
    pre.scrollTop = pre.scrollHeight;
    settle();
  }
  // Lets the loader go on (after the paint) once the shell shows or cannot.
  function settle() {
    var r = shown;
    shown = null;
    if (r) requestAnimationFrame(function () { setTimeout(r, 0); });
  }
  function key(e) {
    var k = e.key, s = KEYS[k];
    if (e.metaKey || e.isComposing) return;
    if (e.ctrlKey && e.shiftKey) return;
    if (e.ctrlKey && !e.altKey && k.length === 1) {
      var c = k.toUpperCase().charCodeAt(0);
      s = c >= 64 && c < 96 ? String.fromCharCode(c - 64) : undefined;
    } else if (k.length === 1) s = (e.altKey && !e.ctrlKey ? "\x1b" : "") + k;
    if (s === undefined) return;
    e.preventDefault();
    send(s);
  }
  function gone() {
    if (pre) pre.remove();
    pre = null;
  }
  window.__rrFirst = {
    // Returns a promise the loader waits for before it runs the bundle, whose start keeps the
    // page's main thread busy for a while: settled once the shell's first output is painted,
    // the socket closes, or after 300 ms.
    // `screen` is what the shell printed before the page was sent, if the server sent it.
    start: function (session, screen) {
      if (sock || taken) return Promise.resolve();
      var ready = new Promise(function (r) { shown = r; setTimeout(settle, 300); });
      var ws;
      try { ws = sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + WS); } catch (e) { settle(); return ready; }
      ws.binaryType = "arraybuffer";
      // Terminal 0: the session's own shell.
      var attach = function () {
        if (!id || ws.readyState !== 1) return;
        ws.send(frame(ATTACH, "\0" + id));
        if (typed) ws.send(frame(INPUT, typed));
        typed = "";
      };
      ws.addEventListener("open", attach);
      ws.addEventListener("message", function (e) {
        if (taken) return;
        frames.push(e.data);
        var b = new Uint8Array(e.data);
        if (b[0] === V && b[1] === OUTPUT) {
          // The socket replays the shell's output from its start: the screen the page came
          // with is drawn again from it, not after it.
          if (early) { early = false; clear(); }
          write(dec.decode(b.subarray(2), { stream: true }));
          render();
        }
      });
      ws.addEventListener("close", function () { if (!taken) { sock = null; gone(); settle(); } });
      addEventListener("DOMContentLoaded", function () { if (frames.length || early) render(); });
      // The screen the page came with (base64): drawn as soon as the page is parsed, so the
      // page's first paint shows the prompt.
      if (screen) {
        try {
          write(new TextDecoder().decode(Uint8Array.from(atob(screen), function (c) { return c.charCodeAt(0); })));
          early = true;
        } catch (e) { clear(); }
      }
      Promise.resolve(session).then(function (v) {
        if (typeof v === "string") { id = v; attach(); } else if (!taken) ws.close();
      });
      return ready;
    },
    adopt: function (session) {
      if (taken || !sock || sock.readyState > 1 || session !== id) return null;
      var received = frames;
      taken = true;
      frames = [];
      return [sock, received];
    },
    done: function () {
      requestAnimationFrame(gone);
    },
  };
})();
