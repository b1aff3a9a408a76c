// The terminal's glue. xterm.js (npm's @xterm/xterm, copied into the site at build time and
// served by the dashboard) is imported only when a terminal first opens, so pages that never
// open one never load it. Sessions live here, keyed by host, so closing the drawer keeps the
// shell: reopening moves the same screen into the new box.

const sessions = new Map();
let loading = null;

function load() {
  if (!loading) {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = '/vendor/xterm/xterm.css';
    document.head.appendChild(css);
    loading = Promise.all([
      import('/vendor/xterm/xterm.mjs'),
      import('/vendor/xterm/addon-fit.mjs'),
    ]).catch((error) => {
      loading = null;
      throw error;
    });
  }
  return loading;
}

// xterm.js adds <style> elements for its renderer; the page's policy allows styles carrying
// the page's nonce, so the ones made while it opens get it.
function withNonce(f) {
  const nonce = document.querySelector('script[nonce]')?.nonce;
  if (!nonce) return f();
  const original = document.createElement;
  document.createElement = function (tag, options) {
    const element = original.call(document, tag, options);
    if (String(tag).toLowerCase() === 'style') element.nonce = nonce;
    return element;
  };
  try {
    return f();
  } finally {
    document.createElement = original;
  }
}

function connect(session, url) {
  const ws = new WebSocket(`${url}&cols=${session.term.cols}&rows=${session.term.rows}`);
  ws.binaryType = 'arraybuffer';
  session.ws = ws;
  session.report('connecting');
  ws.onopen = () => session.report('open');
  ws.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) session.term.write(new Uint8Array(event.data));
  };
  ws.onclose = () => {
    if (session.ws === ws) session.report('closed');
  };
}

// Opens (url given) or re-attaches (url null) the terminal of `key` in `container`; reports
// 'connecting', 'open', 'closed' or 'error: …' through `onState`.
export function terminalOpen(key, container, url, onState) {
  open(key, container, url, onState).catch((error) => onState(`error: ${error}`));
}

async function open(key, container, url, onState) {
  const [{ Terminal }, { FitAddon }] = await load();
  let session = sessions.get(key);
  if (!session) {
    const element = document.createElement('div');
    element.className = 'terminal-screen';
    const term = new Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    session = { element, term, fit, ws: null, report: onState };
    sessions.set(key, session);
    container.appendChild(element);
    withNonce(() => term.open(element));
    const encoder = new TextEncoder();
    term.onData((data) => {
      if (session.ws?.readyState === WebSocket.OPEN) session.ws.send(encoder.encode(data));
    });
    term.onResize(({ cols, rows }) => {
      if (session.ws?.readyState === WebSocket.OPEN) {
        session.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
      }
    });
    session.observer = new ResizeObserver(() => {
      if (session.element.isConnected) session.fit.fit();
    });
    session.observer.observe(element);
  } else {
    container.appendChild(session.element);
  }
  session.report = onState;
  session.fit.fit();
  if (url) connect(session, url);
  else session.report(terminalConnected(key) ? 'open' : 'closed');
  session.term.focus();
}

export function terminalConnected(key) {
  const ws = sessions.get(key)?.ws;
  return !!ws && ws.readyState <= WebSocket.OPEN;
}

export function terminalClose(key) {
  const session = sessions.get(key);
  if (!session) return;
  sessions.delete(key);
  session.ws?.close();
  session.observer?.disconnect();
  session.term.dispose();
  session.element.remove();
}
