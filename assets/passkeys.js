/* The passkey ceremonies of the enrolment page (#add-passkey) and of an approval that needs a
 * passkey (#decide[data-passkey]). Served from /assets/passkeys.js: the pages allow no inline
 * script. SimpleWebAuthn's browser bundle (window.SimpleWebAuthnBrowser) is loaded before it. */
/* global window, document, HTMLFormElement */
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;

  function say(form, text) {
    var el = form.querySelector('[data-passkey-status]');
    if (el) el.textContent = text;
  }

  // A form post of this session (its CSRF token) answered with JSON, or an Error with the server's words.
  function postForJson(url, fields) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(fields),
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.detail || 'The server refused the passkey check.');
        return body;
      });
    });
  }

  function failure(err) {
    if (err && err.name === 'NotAllowedError')
      return 'The passkey check was cancelled or timed out. Try again.';
    return (err && err.message) || 'The passkey check failed. Try again.';
  }

  function supported(form) {
    if (lib && lib.browserSupportsWebAuthn()) return true;
    say(form, 'This browser cannot use passkeys.');
    return false;
  }

  var add = document.getElementById('add-passkey');
  if (add) {
    var button = document.getElementById('add-passkey-button');
    if (supported(add) && button) button.hidden = false;
    add.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!supported(add)) return;
      say(add, 'Follow your browser’s prompt to create the passkey…');
      postForJson(add.dataset.options, { csrf: add.elements.csrf.value })
        .then(function (options) {
          return lib.startRegistration({ optionsJSON: options });
        })
        .then(function (response) {
          add.elements.response.value = JSON.stringify(response);
          HTMLFormElement.prototype.submit.call(add);
        })
        .catch(function (err) {
          say(add, failure(err));
        });
    });
  }

  var decide = document.getElementById('decide');
  if (decide && decide.dataset.passkey === 'required') {
    decide.addEventListener('submit', function (event) {
      // Deny needs no passkey: it goes as a plain form post.
      if (!event.submitter || event.submitter.value !== 'approve') return;
      event.preventDefault();
      if (!supported(decide)) return;
      say(decide, 'Confirm with your passkey…');
      postForJson(decide.dataset.options, {
        csrf: decide.elements.csrf.value,
        ticket: decide.dataset.ticket,
        decision: 'approve',
      })
        .then(function (options) {
          return lib.startAuthentication({ optionsJSON: options });
        })
        .then(function (assertion) {
          decide.elements.assertion.value = JSON.stringify(assertion);
          // A programmatic submit sends no button: the decision goes in a field of its own.
          var decision = document.createElement('input');
          decision.type = 'hidden';
          decision.name = 'decision';
          decision.value = 'approve';
          decide.appendChild(decision);
          HTMLFormElement.prototype.submit.call(decide);
        })
        .catch(function (err) {
          say(decide, failure(err));
        });
    });
  }
})();
