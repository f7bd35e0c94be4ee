// Isolation probe: tries to reach the desktop shell's IPC, its window and its navigation
// from inside the embedded-client iframe, and writes what happened into #results (the app's
// end-to-end test reads it through WebDriver). sign_out is the canary command: if any route
// reached it, the shell would visibly sign out.
'use strict';
(function () {
  var results = {};
  var ATTEMPT_MS = 3000;

  function settle(promise) {
    var timeout = new Promise(function (resolve) {
      setTimeout(function () { resolve('no answer within ' + ATTEMPT_MS + ' ms'); }, ATTEMPT_MS);
    });
    return Promise.race([
      Promise.resolve(promise).then(function (value) {
        return 'resolved: ' + JSON.stringify(value);
      }, function (err) {
        return 'rejected: ' + String(err && err.message ? err.message : err);
      }),
      timeout
    ]);
  }

  function attempt(name, fn) {
    try {
      return settle(fn()).then(function (outcome) { results[name] = outcome; });
    } catch (err) {
      results[name] = 'threw: ' + (err && err.name ? err.name : String(err));
      return Promise.resolve();
    }
  }

  // A message shaped exactly like the shell's own IPC calls, with a guessed invoke key: only
  // the shell's page has the real one, and the key check is what must refuse it (a message
  // without the key would already fail to parse, which would prove nothing).
  function ipcMessage(cmd) {
    return JSON.stringify({
      cmd: cmd, callback: 1, error: 2, payload: {}, options: {},
      __TAURI_INVOKE_KEY__: 'guessed-by-message-handler'
    });
  }

  function probeInternals() {
    var internals = window.__TAURI_INTERNALS__;
    results.internals = internals === undefined ? 'absent' : 'present';
    results.tauriGlobal = window.__TAURI__ === undefined ? 'absent' : 'present';
    if (internals && typeof internals.invoke === 'function') {
      return attempt('internalsInvoke', function () { return internals.invoke('sign_out'); });
    }
    return Promise.resolve();
  }

  function probeParent() {
    ['parent', 'top'].forEach(function (which) {
      try {
        var w = window[which];
        var doc = w.document;
        results[which + 'Document'] = 'readable: ' + String(doc && doc.title);
      } catch (err) {
        results[which + 'Document'] = 'blocked: ' + err.name;
      }
      try {
        var internals = window[which].__TAURI_INTERNALS__;
        results[which + 'Internals'] = internals === undefined ? 'absent' : 'present';
      } catch (err) {
        results[which + 'Internals'] = 'blocked: ' + err.name;
      }
    });
  }

  function probeFetch(name, url) {
    return attempt(name, function () {
      return fetch(url, {
        method: 'POST',
        body: '{}',
        headers: {
          'Content-Type': 'application/json',
          'Tauri-Callback': '1',
          'Tauri-Error': '2',
          'Tauri-Invoke-Key': 'guessed-by-fetch'
        }
      }).then(function (res) {
        return res.text().then(function (body) {
          return 'status ' + res.status + ': ' + body.slice(0, 120);
        });
      });
    });
  }

  function probeMessageHandlers() {
    var handlers = window.webkit && window.webkit.messageHandlers;
    if (handlers && handlers.ipc && typeof handlers.ipc.postMessage === 'function') {
      try {
        handlers.ipc.postMessage(ipcMessage('sign_out'));
        results.webkitIpc = 'posted';
      } catch (err) {
        results.webkitIpc = 'threw: ' + err.name;
      }
    } else {
      results.webkitIpc = 'absent';
    }
    if (window.ipc && typeof window.ipc.postMessage === 'function') {
      try {
        window.ipc.postMessage(ipcMessage('sign_out'));
        results.windowIpc = 'posted';
      } catch (err) {
        results.windowIpc = 'threw: ' + err.name;
      }
    } else {
      results.windowIpc = 'absent';
    }
  }

  function probeTopNavigation() {
    try {
      window.top.location.href = 'https://evil.example.net/navigated-by-the-client';
      results.topNavigation = 'no exception';
    } catch (err) {
      results.topNavigation = 'blocked: ' + err.name;
    }
  }

  function addFrame(src) {
    var frame = document.createElement('iframe');
    frame.src = src;
    frame.width = '300';
    frame.height = '60';
    document.getElementById('frames').appendChild(frame);
  }

  function probeMedia() {
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== 'function') {
      results.microphone = 'no mediaDevices';
      return Promise.resolve();
    }
    return navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var tracks = stream.getAudioTracks();
      results.microphone = 'granted: ' + tracks.length + ' track(s)';
      tracks.forEach(function (t) { t.stop(); });
    }, function (err) {
      results.microphone = 'denied: ' + err.name;
    });
  }

  // Right source and origin (this page is the iframe), wrong content: the host must drop each.
  function postBadPayloads() {
    var parent = window.parent;
    var target = '*';
    parent.postMessage({ type: 'agent-shell:queue-position', position: '3', total: 12 }, target);
    parent.postMessage({ type: 'agent-shell:session-start', userId: 'u1', name: new Array(20001).join('x') }, target);
    parent.postMessage({ type: 'agent-shell:teleport' }, target);
    parent.postMessage('agent-shell:ready', target);
  }

  function wireButtons() {
    document.getElementById('open-allowed').addEventListener('click', function () {
      window.open('https://help.example.com/article?id=42', '_blank');
    });
    document.getElementById('open-http').addEventListener('click', function () {
      window.open('http://help.example.com/plain-http', '_blank');
    });
    document.getElementById('open-other').addEventListener('click', function () {
      window.open('https://evil.example.net/phish', '_blank');
    });
  }

  function finish() {
    var pre = document.getElementById('results');
    pre.textContent = JSON.stringify(results, null, 1);
    pre.setAttribute('data-done', 'true');
  }

  wireButtons();
  fetch('/embedded-client/config.json', { cache: 'no-store' })
    .then(function (res) { return res.json(); })
    .then(function (config) {
      probeParent();
      probeMessageHandlers();
      probeTopNavigation();
      // A frame of a non-client origin (the navigation lock must cancel it) and a frame of
      // the client's own origin that is not the client window (its messages must be ignored).
      addFrame(config.login_origin + '/embedded-client/probe/spoof.html?from=login');
      addFrame('/embedded-client/probe/spoof.html?from=client');
      postBadPayloads();
      return Promise.all([
        probeInternals(),
        probeFetch('fetchIpcScheme', 'ipc://localhost/sign_out'),
        probeFetch('fetchIpcLocalhost', 'http://ipc.localhost/sign_out'),
        probeMedia()
      ]);
    })
    .catch(function (err) {
      results.error = String(err && err.message ? err.message : err);
    })
    .then(function () {
      // The control: the same channel with right source, origin and content is heard.
      window.parent.postMessage(
        { type: 'agent-shell:session-start', userId: 'probe-control', name: 'Probe Control' },
        '*'
      );
      finish();
    });
}());
