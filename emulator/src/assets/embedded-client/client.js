// Emulated Genesys Cloud Embedded Client.
//
// Talks to its host page (the desktop shell) with window.postMessage only:
//   ready -> ack -> init -> session-start, then queue-position / interaction-end /
//   token-expiring on a schedule, auth-error on 401, and token swaps from the host.
//
// Security rules this file keeps on purpose, because the desktop app's tests check them:
//   * it never reads anything from its own URL (neither query string nor fragment): the
//     access token only ever arrives by postMessage;
//   * it never posts with a wildcard targetOrigin: the ready message goes to each configured embed
//     origin, everything later only to the acknowledged host origin, and only if the host
//     listed that origin in init.allowedOrigins;
//   * it accepts messages only from window.parent and from a configured embed origin.
'use strict';

(function () {
  var PROTOCOL_VERSION = 'emulator-1';
  var TYPES = {
    READY: 'agent-shell:ready',
    ACK: 'ack',
    INIT: 'agent-shell:init',
    SESSION_START: 'agent-shell:session-start',
    AUTH_ERROR: 'agent-shell:auth-error',
    TOKEN: 'agent-shell:token',
    TOKEN_EXPIRING: 'agent-shell:token-expiring',
    QUEUE_POSITION: 'agent-shell:queue-position',
    INTERACTION_START: 'agent-shell:interaction-start',
    INTERACTION_END: 'agent-shell:interaction-end'
  };
  var AUTH_ERROR_MESSAGE = 'AuthenticationError: 401 Unauthorized';
  // setTimeout overflows above 2^31-1 ms and would fire at once.
  var MAX_TIMEOUT_MS = 2147483647;
  var LOG_LIMIT = 14;

  var state = {
    config: null,
    hostOrigin: null,
    initialised: false,
    allowedOrigins: [],
    settings: null,
    token: null,
    user: null,
    sessionStarted: false,
    authFailed: false,
    tokenExpiresAt: null,
    // Bumped whenever the token changes, so answers about an older token are dropped.
    generation: 0,
    timers: { queue: null, interaction: null, expiring: null },
    // position: the next one to announce; shown: the last one announced (what the UI shows).
    queue: { position: 0, total: 0, start: 0, shown: 0 },
    interaction: null,
    muted: false,
    held: false,
    microphone: null
  };

  function $(id) {
    return document.getElementById(id);
  }

  // ----- UI -----

  function setStatus(kind, text) {
    var pill = $('status');
    pill.className = 'pill pill-' + kind;
    pill.textContent = text;
  }

  function logLine(direction, type, note) {
    var list = $('log');
    var item = document.createElement('li');
    var dir = document.createElement('span');
    dir.className = 'dir';
    dir.textContent = direction;
    var name = document.createElement('span');
    name.className = 'type';
    // The protocol prefix is the same on every message; the panel is narrow.
    name.textContent = type.replace('agent-shell:', '');
    item.appendChild(dir);
    item.appendChild(name);
    if (note) {
      var extra = document.createElement('span');
      extra.className = 'note';
      extra.textContent = note;
      item.appendChild(extra);
    }
    list.insertBefore(item, list.firstChild);
    while (list.children.length > LOG_LIMIT) {
      list.removeChild(list.lastChild);
    }
  }

  function initials(name) {
    var parts = String(name || '?').trim().split(/\s+/);
    var letters = parts.slice(0, 2).map(function (p) { return p.charAt(0).toUpperCase(); });
    return letters.join('') || '?';
  }

  function renderSession() {
    var s = state.settings;
    $('waiting').hidden = true;
    $('auth-error').hidden = !state.authFailed;
    $('session').hidden = !state.sessionStarted;
    if (state.user) {
      $('agent-name').textContent = state.user.name || state.user.username || 'Agent';
      $('agent-id').textContent = state.user.email || state.user.id || '';
      $('avatar').textContent = initials(state.user.name);
    }
    $('queue-card').hidden = !s.showQueuePosition;
    $('call-controls').hidden = !s.showCallControls;
    $('btn-transfer').hidden = !s.allowTransfer;
    $('btn-park').hidden = !s.allowPark;
    $('btn-conference').hidden = !s.allowConference;
    $('host-origin').textContent = state.hostOrigin || '-';
    $('token-expiry').textContent = state.tokenExpiresAt
      ? new Date(state.tokenExpiresAt).toLocaleTimeString()
      : '-';
    renderInteraction();
    renderQueue();
  }

  function renderQueue() {
    var shown = state.queue.shown;
    $('queue-position').textContent = shown > 0 ? String(shown) : '-';
    $('queue-caption').textContent = shown > 0
      ? 'in line of ' + state.queue.total + ' waiting'
      : 'waiting for the next caller';
    var progress = $('queue-progress');
    progress.max = Math.max(1, state.queue.start);
    progress.value = shown > 0 ? Math.max(0, state.queue.start - shown + 1) : 0;
  }

  function renderInteraction() {
    var line = $('interaction-state');
    var presence = $('presence');
    var active = state.interaction !== null;
    if (state.authFailed) {
      presence.className = 'presence presence-off';
      presence.textContent = 'Offline';
    } else if (active) {
      presence.className = 'presence presence-busy';
      presence.textContent = 'Interacting';
    } else {
      presence.className = 'presence presence-on';
      presence.textContent = 'On Queue';
    }
    line.className = active ? 'interaction active' : 'interaction muted';
    line.textContent = active
      ? 'Inbound call from ' + state.interaction.caller + (state.held ? ' (on hold)' : '')
      : 'No active interaction';
    var buttons = $('call-controls').querySelectorAll('button');
    for (var i = 0; i < buttons.length; i += 1) {
      buttons[i].disabled = !active;
    }
    $('btn-mute').setAttribute('aria-pressed', String(active && state.muted));
    $('btn-hold').setAttribute('aria-pressed', String(active && state.held));
  }

  // ----- messaging -----

  function isEmbedded() {
    return window.parent !== null && window.parent !== window;
  }

  function postToHost(message) {
    if (!state.hostOrigin || state.allowedOrigins.indexOf(state.hostOrigin) === -1) {
      logLine('held', message.type, 'host origin not in allowedOrigins');
      return false;
    }
    window.parent.postMessage(message, state.hostOrigin);
    logLine('out', message.type, describe(message));
    return true;
  }

  function describe(message) {
    switch (message.type) {
      case TYPES.QUEUE_POSITION:
        return message.position + ' of ' + message.total;
      case TYPES.TOKEN_EXPIRING:
        return message.expiresIn + ' s left';
      case TYPES.SESSION_START:
        return message.name;
      default:
        return '';
    }
  }

  function announceReady() {
    if (!isEmbedded()) {
      $('waiting-detail').textContent =
        'This page is not inside a host frame, so there is nobody to talk to.';
      setStatus('warn', 'Not embedded');
      return;
    }
    var origins = state.config.embed_origins;
    for (var i = 0; i < origins.length; i += 1) {
      try {
        window.parent.postMessage({ type: TYPES.READY, version: PROTOCOL_VERSION }, origins[i]);
      } catch (err) {
        // A malformed origin string throws; the others still get the message.
      }
    }
    logLine('out', TYPES.READY, origins.length + ' origin(s)');
    $('waiting-detail').textContent = 'Ready sent; waiting for the host to acknowledge.';
    setStatus('idle', 'Waiting for host');
  }

  function onMessage(event) {
    if (!isEmbedded() || event.source !== window.parent) {
      return;
    }
    if (!state.config || state.config.embed_origins.indexOf(event.origin) === -1) {
      return;
    }
    if (state.hostOrigin && event.origin !== state.hostOrigin) {
      return;
    }
    var msg = event.data;
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
      return;
    }
    switch (msg.type) {
      case TYPES.ACK:
        if (msg.status === 'received' && !state.hostOrigin) {
          state.hostOrigin = event.origin;
          logLine('in', 'ack', event.origin);
          $('waiting-detail').textContent = 'Handshake done; waiting for init.';
          setStatus('idle', 'Connected');
        }
        return;
      case TYPES.INIT:
        if (state.hostOrigin) {
          logLine('in', TYPES.INIT);
          handleInit(msg);
        }
        return;
      case TYPES.TOKEN:
        if (state.initialised) {
          logLine('in', TYPES.TOKEN);
          handleToken(msg);
        }
        return;
      default:
        return;
    }
  }

  function normaliseSettings(raw) {
    var defaults = {
      showQueuePosition: true,
      showCallControls: true,
      allowTransfer: false,
      allowPark: false,
      allowConference: false
    };
    var out = {};
    Object.keys(defaults).forEach(function (key) {
      out[key] = raw && typeof raw === 'object' && typeof raw[key] === 'boolean'
        ? raw[key]
        : defaults[key];
    });
    return out;
  }

  function stringList(value) {
    return Array.isArray(value)
      ? value.filter(function (v) { return typeof v === 'string'; })
      : [];
  }

  // ----- API calls (same origin, token in the Authorization header only) -----

  function apiGet(path, token) {
    return fetch(path, {
      headers: { Authorization: 'Bearer ' + token },
      cache: 'no-store',
      credentials: 'omit'
    });
  }

  // The parsed JSON body, or null when it is not JSON (never a rejected promise).
  function readJson(res) {
    return res.json().then(function (body) {
      return body;
    }, function () {
      return null;
    });
  }

  // users/me only: what each queue tick does. Always resolves, never rejects:
  // {ok: true, user} or {ok: false, status} (status 0: unreachable; malformed: unreadable body).
  function checkToken(token) {
    if (!token) {
      return Promise.resolve({ ok: false, status: 401 });
    }
    return apiGet('/api/v2/users/me', token).then(function (res) {
      if (!res.ok) {
        return { ok: false, status: res.status };
      }
      return readJson(res).then(function (user) {
        if (!user || typeof user !== 'object' || user.id === undefined || user.id === null) {
          return { ok: false, status: res.status, malformed: true };
        }
        return { ok: true, user: user };
      });
    }, function () {
      return { ok: false, status: 0 };
    });
  }

  // users/me, then tokens/me for the expiry.
  function validate(token) {
    return checkToken(token).then(function (result) {
      if (!result.ok) {
        return result;
      }
      return apiGet('/api/v2/tokens/me', token).then(function (res) {
        if (res.status === 401) {
          return { ok: false, status: 401 };
        }
        if (!res.ok) {
          return { ok: true, user: result.user, expiresIn: null };
        }
        return readJson(res).then(function (info) {
          var secs = info && typeof info.expires_in === 'number' ? info.expires_in : null;
          return { ok: true, user: result.user, expiresIn: secs };
        });
      }, function () {
        return { ok: true, user: result.user, expiresIn: null };
      });
    });
  }

  // ----- protocol handlers -----

  function handleInit(msg) {
    state.initialised = true;
    state.allowedOrigins = stringList(msg.allowedOrigins);
    state.settings = normaliseSettings(msg.embeddedClientSettings);
    state.generation += 1;
    var generation = state.generation;
    var token = typeof msg.accessToken === 'string' ? msg.accessToken : '';
    // Every init is a fresh sign-in: it gets its own session-start or auth-error.
    stopSchedule();
    state.sessionStarted = false;
    state.authFailed = false;
    state.interaction = null;
    setStatus('idle', 'Signing in');
    validateAndAccept(token, generation);
  }

  function handleToken(msg) {
    state.generation += 1;
    var generation = state.generation;
    var token = typeof msg.accessToken === 'string' ? msg.accessToken : '';
    // Every token message gets its own answer: a second bad token gets a second auth-error.
    state.authFailed = false;
    validateAndAccept(token, generation);
  }

  // Validates token and adopts it, unless a newer init or token (generation) came meanwhile.
  function validateAndAccept(token, generation) {
    validate(token).then(function (result) {
      if (generation !== state.generation) {
        return;
      }
      if (!result.ok) {
        failValidation(result);
        return;
      }
      acceptToken(token, result);
    }).catch(function (err) {
      if (generation === state.generation) {
        clientFailure(err);
      }
    });
  }

  function acceptToken(token, result) {
    var firstStart = !state.sessionStarted;
    state.token = token;
    state.user = result.user;
    state.authFailed = false;
    state.sessionStarted = true;
    if (firstStart) {
      checkMicrophone();
      postToHost({
        type: TYPES.SESSION_START,
        userId: String(result.user.id),
        name: String(result.user.name || '')
      });
    }
    scheduleExpiring(result.expiresIn);
    if (state.timers.queue === null) {
      startSchedule();
    }
    setStatus('ok', 'Signed in');
    renderSession();
  }

  function failValidation(result) {
    if (result.status === 401) {
      authError();
      return;
    }
    if (result.malformed) {
      setStatus('warn', 'API error: unreadable response');
    } else {
      setStatus('warn', result.status === 0 ? 'API unreachable' : 'API error ' + result.status);
    }
  }

  // A bug or an unexpected answer: say so instead of staying on "Signing in".
  function clientFailure(err) {
    setStatus('bad', 'Client error');
    logLine('local', 'error', String(err && err.message ? err.message : err));
  }

  function authError() {
    if (state.authFailed) {
      return;
    }
    state.authFailed = true;
    stopSchedule();
    postToHost({ type: TYPES.AUTH_ERROR, status: 401, message: AUTH_ERROR_MESSAGE });
    setStatus('bad', 'Signed out');
    if (state.settings) {
      renderSession();
    } else {
      $('waiting').hidden = true;
      $('auth-error').hidden = false;
    }
  }

  // ----- schedule -----

  function startSchedule() {
    newQueueCycle();
    state.timers.queue = setInterval(queueTick, state.config.queue_interval_ms);
    state.timers.interaction = setInterval(interactionTick, state.config.interaction_interval_ms);
  }

  function stopSchedule() {
    clearInterval(state.timers.queue);
    clearInterval(state.timers.interaction);
    clearTimeout(state.timers.expiring);
    state.timers.queue = null;
    state.timers.interaction = null;
    state.timers.expiring = null;
  }

  function randomInt(min, max) {
    var buf = new Uint32Array(1);
    window.crypto.getRandomValues(buf);
    return min + (buf[0] % (max - min + 1));
  }

  function newQueueCycle() {
    var total = randomInt(8, 15);
    var position = Math.min(total, randomInt(3, 6));
    state.queue = { position: position, total: total, start: position, shown: 0 };
  }

  function queueTick() {
    var generation = state.generation;
    checkToken(state.token).then(function (result) {
      if (generation !== state.generation || state.authFailed) {
        return;
      }
      if (!result.ok) {
        failValidation(result);
        return;
      }
      setStatus('ok', 'Signed in');
      if (state.queue.position >= 1) {
        state.queue.shown = state.queue.position;
        if (state.settings.showQueuePosition) {
          postToHost({
            type: TYPES.QUEUE_POSITION,
            position: state.queue.position,
            total: state.queue.total
          });
        }
        state.queue.position -= 1;
      } else {
        startInteraction();
        newQueueCycle();
      }
      renderQueue();
    }).catch(function (err) {
      if (generation === state.generation) {
        clientFailure(err);
      }
    });
  }

  function interactionId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }

  function startInteraction() {
    if (state.interaction !== null) {
      return;
    }
    state.interaction = {
      id: interactionId(),
      caller: '+1 317-555-0' + String(randomInt(100, 199))
    };
    state.muted = false;
    state.held = false;
    logLine('local', 'interaction started', state.interaction.caller);
    postToHost({ type: TYPES.INTERACTION_START, interactionId: state.interaction.id });
    renderInteraction();
  }

  function endInteraction() {
    var id = state.interaction.id;
    state.interaction = null;
    postToHost({ type: TYPES.INTERACTION_END, interactionId: id });
    renderInteraction();
  }

  function tokenExpired() {
    return state.tokenExpiresAt !== null && Date.now() >= state.tokenExpiresAt;
  }

  // Ends the active interaction, if any, while the session is good.
  function interactionTick() {
    if (state.authFailed || state.interaction === null || tokenExpired()) {
      return;
    }
    endInteraction();
  }

  function scheduleExpiring(expiresIn) {
    clearTimeout(state.timers.expiring);
    state.timers.expiring = null;
    if (typeof expiresIn !== 'number') {
      state.tokenExpiresAt = null;
      return;
    }
    state.tokenExpiresAt = Date.now() + expiresIn * 1000;
    armExpiring();
  }

  function armExpiring() {
    var marginMs = state.config.token_expiring_margin_secs * 1000;
    var delay = Math.max(0, state.tokenExpiresAt - marginMs - Date.now());
    state.timers.expiring = setTimeout(function () {
      state.timers.expiring = null;
      if (state.authFailed || state.tokenExpiresAt === null) {
        return;
      }
      var remainingMs = state.tokenExpiresAt - Date.now();
      if (remainingMs > marginMs + 1000) {
        armExpiring(); // woke early because the delay was capped
        return;
      }
      postToHost({
        type: TYPES.TOKEN_EXPIRING,
        expiresIn: Math.max(0, Math.round(remainingMs / 1000))
      });
    }, Math.min(delay, MAX_TIMEOUT_MS));
  }

  // ----- softphone -----

  // Asks for the microphone once per page, as the real client's WebRTC softphone does.
  function checkMicrophone() {
    if (state.microphone !== null) {
      return;
    }
    state.microphone = 'checking';
    $('microphone').textContent = 'Checking…';
    var media = navigator.mediaDevices;
    if (!media || typeof media.getUserMedia !== 'function') {
      state.microphone = 'unsupported';
      $('microphone').textContent = 'Not available in this webview';
      return;
    }
    media.getUserMedia({ audio: true }).then(function (stream) {
      state.microphone = 'ready';
      stream.getTracks().forEach(function (track) { track.stop(); });
      $('microphone').textContent = 'Ready';
      logLine('local', 'microphone', 'ready');
    }, function (err) {
      state.microphone = 'blocked';
      $('microphone').textContent = 'Unavailable (' + (err && err.name ? err.name : 'error') + ')';
      logLine('local', 'microphone', err && err.name ? err.name : 'error');
    });
  }

  // ----- local call controls (purely cosmetic) -----

  function wireControls() {
    $('btn-mute').addEventListener('click', function () {
      state.muted = !state.muted;
      renderInteraction();
    });
    $('btn-hold').addEventListener('click', function () {
      state.held = !state.held;
      renderInteraction();
    });
    ['transfer', 'park', 'conference'].forEach(function (action) {
      $('btn-' + action).addEventListener('click', function () {
        logLine('local', action + ' requested', 'emulated');
      });
    });
    $('btn-end').addEventListener('click', function () {
      if (state.interaction !== null) {
        endInteraction();
      }
    });
  }

  // ----- start -----

  function clampMs(ms) {
    return Math.min(MAX_TIMEOUT_MS, Math.max(50, ms));
  }

  function loadConfig() {
    return fetch('/embedded-client/config.json', { cache: 'no-store', credentials: 'omit' })
      .then(function (res) {
        if (!res.ok) {
          throw new Error('config.json: HTTP ' + res.status);
        }
        return res.json();
      });
  }

  window.addEventListener('message', onMessage);
  wireControls();
  loadConfig().then(function (config) {
    state.config = {
      embed_origins: stringList(config.embed_origins),
      // Clamped: setInterval fires at once when the delay overflows 2^31-1 ms.
      queue_interval_ms: clampMs(Number(config.queue_interval_ms) || 3000),
      interaction_interval_ms: clampMs(Number(config.interaction_interval_ms) || 20000),
      token_expiring_margin_secs: Math.max(0, Number(config.token_expiring_margin_secs) || 0)
    };
    announceReady();
  }, function (err) {
    setStatus('bad', 'Configuration error');
    $('waiting-detail').textContent = String(err && err.message ? err.message : err);
  });
}());
