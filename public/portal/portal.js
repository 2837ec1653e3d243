// Roster login portal: progressive enhancement only. The pages work without this script; it
// re-checks the password policy rule by rule as the user types, using the rule descriptors the
// server rendered into the page (data-policy), so the browser and the server apply one rule set.
(function () {
  'use strict';

  function passes(test, password, identities) {
    switch (test.kind) {
      case 'minLength':
        return Array.from(password).length >= test.min;
      case 'notIdentity': {
        var lower = password.toLowerCase();
        return !identities.some(function (id) {
          return id && String(id).toLowerCase() === lower;
        });
      }
      case 'pattern':
        return new RegExp(test.source, test.flags).test(password);
      case 'anyOf':
        return Array.from(password).some(function (c) {
          return test.characters.indexOf(c) >= 0;
        });
      default:
        return true;
    }
  }

  function wire(list) {
    var rules = JSON.parse(list.getAttribute('data-policy') || '[]');
    var identities = JSON.parse(list.getAttribute('data-identities') || '[]');
    var form = list.closest('form');
    var input = form && form.querySelector('input[data-policy-input]');
    var live = document.getElementById('password-rules-live');
    if (!input) return;
    var update = function () {
      var password = input.value;
      var failing = 0;
      rules.forEach(function (rule) {
        var item = list.querySelector('li[data-code="' + rule.code + '"]');
        if (!item) return;
        var ok = password.length > 0 && passes(rule.test, password, identities);
        if (!ok) failing += 1;
        item.classList.remove('ok', 'fail', 'unknown');
        item.classList.add(password.length === 0 ? 'unknown' : ok ? 'ok' : 'fail');
        var state = item.querySelector('.rule-state');
        if (state) state.textContent = password.length === 0 ? '' : ok ? 'Met: ' : 'Not met: ';
      });
      if (live) live.textContent = password.length === 0 ? '' : failing === 0 ? 'Every rule is met.' : failing + ' rule(s) not met yet.';
    };
    input.addEventListener('input', update);
    if (input.value) update();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var list = document.getElementById('password-rules');
    if (list) wire(list);
  });
})();
