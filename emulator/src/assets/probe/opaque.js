// Served with "Content-Security-Policy: sandbox allow-scripts": this document's origin is
// opaque ("null") although it is the client frame's document, so its messages have the right
// event.source and the wrong event.origin. The host must ignore every one of them (and never
// answer the ready: that would post the access token to an origin it cannot name).
'use strict';
(function () {
  var messages = [
    { type: 'agent-shell:ready', version: 'opaque' },
    { type: 'agent-shell:session-start', userId: 'opaque', name: 'Opaque Origin' },
    { type: 'agent-shell:queue-position', position: 1, total: 1 }
  ];
  messages.forEach(function (message) {
    window.parent.postMessage(message, '*');
  });
  document.getElementById('status').textContent = 'posted ' + messages.length + ' messages from origin ' + String(self.origin);
  document.body.setAttribute('data-posted', String(messages.length));
}());
