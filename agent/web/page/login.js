// The token form (only when benchd has [web] token_file): the server checks the token and sets
// an HttpOnly cookie; then the bench page opens.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const csrf = document.querySelector('meta[name="benchd-csrf"]').content;
  document.getElementById('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const msg = document.getElementById('msg');
    let r;
    try {
      r = await fetch('/api/login', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-Benchd-CSRF': csrf},
        body: JSON.stringify({token: document.getElementById('token').value.trim()})});
    } catch (err) {
      msg.textContent = String(err.message || err);
      return;
    }
    if (r.ok) {
      location.href = '/';
      return;
    }
    const j = await r.json().catch(() => ({}));
    msg.textContent = j.error || ('HTTP ' + r.status);
  });
});
