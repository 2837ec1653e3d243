// Roster login portal: the security-key (WebAuthn) ceremony, the one part of the portal that
// needs JavaScript. A form marked data-webauthn="register" or "authenticate" is shown only when
// the browser has the API. Its button asks the server for options (POST, with the form's CSRF
// field), runs navigator.credentials.create/get, and posts the browser's answer back as JSON in
// the form's hidden field: an ordinary form submission, checked on the server like any other.
(function () {
  'use strict';

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  // The JSON shapes @simplewebauthn/server expects (RegistrationResponseJSON / AuthenticationResponseJSON).
  function serialise(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
    };
  }

  function wire(form) {
    var mode = form.getAttribute('data-webauthn');
    var button = form.querySelector('[data-webauthn-start]');
    var status = form.querySelector('[data-webauthn-status]');
    var field = form.querySelector('input[name="' + form.getAttribute('data-response-field') + '"]');
    var say = function (text) {
      if (status) status.textContent = text;
    };
    form.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      say('Follow your browser’s prompt to use your security key or passkey…');
      var body = new URLSearchParams();
      Array.prototype.forEach.call(form.querySelectorAll('input[name="_csrf"], input[name="deviceName"]'), function (i) {
        body.append(i.name, i.value);
      });
      fetch(form.getAttribute('data-options-url'), { method: 'POST', body: body, credentials: 'same-origin' })
        .then(function (res) {
          return res.json().then(function (json) {
            if (!res.ok) throw new Error(json.error || 'The server refused.');
            return json;
          });
        })
        .then(function (options) {
          options.challenge = toBytes(options.challenge);
          if (mode === 'register') {
            options.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
            options.excludeCredentials = withIds(options.excludeCredentials);
            return navigator.credentials.create({ publicKey: options });
          }
          options.allowCredentials = withIds(options.allowCredentials);
          return navigator.credentials.get({ publicKey: options });
        })
        .then(function (cred) {
          if (!cred) throw new Error('No credential was returned.');
          field.value = JSON.stringify(serialise(cred));
          say('Checking…');
          form.submit();
        })
        .catch(function (err) {
          button.disabled = false;
          say(
            err && err.name === 'NotAllowedError'
              ? 'Cancelled or timed out. Try again.'
              : 'That did not work: ' + ((err && err.message) || 'unknown error') + '.',
          );
        });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) return;
    Array.prototype.forEach.call(document.querySelectorAll('form[data-webauthn]'), wire);
    Array.prototype.forEach.call(document.querySelectorAll('[data-webauthn-missing]'), function (n) {
      n.hidden = true;
    });
  });
})();
