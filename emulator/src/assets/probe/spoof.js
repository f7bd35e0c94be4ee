// A window that is not the embedded client posts messages the host would act on if it only
// looked at the payload (or only at the origin: this frame may share the client's origin).
'use strict';
(function () {
  var messages = [
    { type: 'agent-shell:session-start', userId: 'spoofed', name: 'Spoofed Agent' },
    { type: 'agent-shell:queue-position', position: 0, total: 999 },
    { type: 'agent-shell:ready', version: 'spoof' }
  ];
  messages.forEach(function (message) {
    window.top.postMessage(message, '*');
  });
  document.body.setAttribute('data-posted', String(messages.length));
}());
