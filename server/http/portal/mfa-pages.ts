import type { PortalDevice } from '../../modules/mfa/mfa-portal.service.js';
import { csrfInput, documentOf, errorSummary, field, html, type PortalHeader, type VNode } from './layout.js';
import { portalPath } from './pages.js';

/** Where the emailed enrolment link lands: `<PORTAL_BASE_URL>/mfa/enroll` (one address for every IdP of every tenant). */
export const ENROLL_ROUTE = '/mfa/enroll';
export const ENROLL_PATH = `/portal${ENROLL_ROUTE}`;

export interface EnrollWho {
  header: PortalHeader;
  username: string;
  email: string | null;
  name: string;
}

function who(w: EnrollWho): VNode {
  return html`<dl class="who">
    <dt>Name</dt>
    <dd>${w.name || '—'}</dd>
    <dt>Username</dt>
    <dd>${w.username}</dd>
    <dt>Email</dt>
    <dd>${w.email ?? '—'}</dd>
  </dl>`;
}

/**
 * The security-key part of a page: hidden until `webauthn.js` finds the browser API, since the
 * ceremony needs JavaScript (everything else on these pages works without it).
 */
function webauthnBlock(opts: {
  mode: 'register' | 'authenticate';
  csrf: string;
  optionsUrl: string;
  action: string;
  field: string;
  label: string;
  extra?: VNode | null;
}): VNode {
  return html`<form
    method="post"
    action=${opts.action}
    class="webauthn"
    hidden
    data-webauthn=${opts.mode}
    data-options-url=${opts.optionsUrl}
    data-response-field=${opts.field}
  >
    ${csrfInput(opts.csrf)} ${opts.extra ?? null}
    <input type="hidden" name=${opts.field} value="" />
    <button type="button" data-webauthn-start>${opts.label}</button>
    <p class="webauthn-status" role="status" aria-live="polite" data-webauthn-status></p>
  </form>`;
}

/** The emailed link's page: who is enrolling, and the two kinds of authenticator. */
export function enrollChoicePage(v: EnrollWho & { csrf: string; errors?: string[] }): string {
  return documentOf(
    'Set up two-step verification',
    v.header,
    html`${who(v)} ${errorSummary(v.errors ?? [])}
      <section aria-labelledby="app-title">
        <h2 id="app-title">Authenticator app</h2>
        <p>Google Authenticator, Microsoft Authenticator, Authy, 1Password or any app that shows 6-digit codes.</p>
        <form method="post" action=${`${ENROLL_PATH}/totp`}>
          ${csrfInput(v.csrf)}
          ${field({ id: 'totp-name', name: 'deviceName', label: 'Name for this device', value: 'Authenticator app', autocomplete: 'off' })}
          <button type="submit">Use an authenticator app</button>
        </form>
      </section>
      <section aria-labelledby="key-title">
        <h2 id="key-title">Security key or passkey</h2>
        <p class="webauthn-missing" data-webauthn-missing>This needs JavaScript and a browser that supports security keys.</p>
        ${webauthnBlock({
          mode: 'register',
          csrf: v.csrf,
          optionsUrl: `${ENROLL_PATH}/webauthn/options`,
          action: `${ENROLL_PATH}/webauthn`,
          field: 'response',
          label: 'Register a security key or passkey',
          extra: field({ id: 'key-name', name: 'deviceName', label: 'Name for this key', value: 'Security key', autocomplete: 'off' }),
        })}
      </section>`,
    ['webauthn.js'],
  );
}

/**
 * The authenticator app's secret, as a QR code (an image sent inline as a data URL) and as
 * text for manual entry, then the 6-digit code that proves the app holds it. After a wrong code
 * the page comes back without the secret (it is shown once): the app already has it.
 */
export function totpSetupPage(
  v: EnrollWho & {
    csrf: string;
    setup: { qrCodeDataUrl: string; secret: string; otpauthUri: string } | null;
    error?: string | null;
  },
): string {
  const s = v.setup;
  return documentOf(
    'Set up your authenticator app',
    v.header,
    html`${who(v)} ${errorSummary(v.error ? [v.error] : [])}
      ${
        s
          ? html`<ol class="steps">
              <li>Open your authenticator app and add an account.</li>
              <li>
                Scan this QR code:
                <img
                  class="qr"
                  src=${s.qrCodeDataUrl}
                  width="240"
                  height="240"
                  alt="QR code holding the secret for your authenticator app"
                />
              </li>
              <li>
                Or type this key into the app (time-based, 6 digits):
                <code id="totp-secret" class="secret">${s.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
                <details>
                  <summary>Setup address (otpauth URI)</summary>
                  <code id="totp-uri" class="secret">${s.otpauthUri}</code>
                </details>
              </li>
            </ol>`
          : html`<p>Enter the current code your authenticator app shows for this account.</p>`
      }
      <form method="post" action=${`${ENROLL_PATH}/totp/confirm`} novalidate>
        ${csrfInput(v.csrf)}
        ${field({
          id: 'code',
          name: 'code',
          label: 'The 6-digit code from the app',
          autocomplete: 'one-time-code',
          autofocus: !s,
          error: v.error ?? null,
        })}
        <button type="submit">Confirm</button>
      </form>
      <form method="post" action=${`${ENROLL_PATH}/totp`}>
        ${csrfInput(v.csrf)}
        <button type="submit" class="secondary">Start again with a new QR code</button>
      </form>`,
  );
}

/** The second step of a sign-in: a code from the app, a security key, or an administrator's bypass code. */
export function secondFactorPage(v: {
  header: PortalHeader;
  idpName: string;
  tenantSlug: string | null;
  csrf: string;
  totp: boolean;
  webauthn: boolean;
  error?: string | null;
}): string {
  const action = portalPath(v.idpName, 'verify', v.tenantSlug);
  return documentOf(
    'Two-step verification',
    v.header,
    html`${errorSummary(v.error ? [v.error] : [])}
      <p>Your password was right. Confirm that it is you with your second factor.</p>
      ${
        v.totp
          ? html`<form method="post" action=${action} novalidate>
              ${csrfInput(v.csrf)}
              ${field({
                id: 'code',
                name: 'code',
                label: 'Code from your authenticator app',
                autocomplete: 'one-time-code',
                autofocus: true,
                error: v.error ?? null,
              })}
              <button type="submit">Verify</button>
            </form>`
          : null
      }
      ${
        v.webauthn
          ? webauthnBlock({
              mode: 'authenticate',
              csrf: v.csrf,
              optionsUrl: portalPath(v.idpName, 'verify/webauthn-options', v.tenantSlug),
              action,
              field: 'webauthnResponse',
              label: 'Use your security key or passkey',
            })
          : null
      }
      ${v.webauthn && !v.totp ? html`<p class="webauthn-missing" data-webauthn-missing>A security key needs JavaScript.</p>` : null}
      <details>
        <summary>Use a bypass code from your administrator</summary>
        <form method="post" action=${action} novalidate>
          ${csrfInput(v.csrf)} ${field({ id: 'bypass-code', name: 'bypassCode', label: 'Bypass code', autocomplete: 'off' })}
          <button type="submit" class="secondary">Verify with the bypass code</button>
        </form>
      </details>
      <form method="post" action=${portalPath(v.idpName, 'sign-out', v.tenantSlug)}>
        ${csrfInput(v.csrf)}
        <button type="submit" class="link">Cancel and sign out</button>
      </form>`,
    v.webauthn ? ['webauthn.js'] : [],
  );
}

const KIND_LABEL: Record<string, string> = {
  TOTP: 'Authenticator app',
  WEBAUTHN: 'Security key / passkey',
  PUSH: 'Push',
  SMS: 'SMS',
};

const when = (d: Date | null) => (d ? `${d.toISOString().replace('T', ' ').slice(0, 16)} UTC` : 'never');

/** The account page's devices: the user's own, each removable (a form per device, CSRF like every post). */
export function devicesSection(v: { idpName: string; tenantSlug: string | null; csrf: string; devices: PortalDevice[] | null }): VNode {
  const body =
    v.devices === null
      ? html`<p>Two-step verification is not set up for your account.</p>`
      : !v.devices.length
        ? html`<p>You have no devices. Ask your administrator for an enrolment email to add one.</p>`
        : html`<table class="devices">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              ${v.devices.map(
                (d) =>
                  html`<tr>
                    <td>${d.name}</td>
                    <td>${KIND_LABEL[d.kind] ?? d.kind}</td>
                    <td>${d.status === 'ACTIVE' ? 'Active' : 'Disabled'}</td>
                    <td>${when(d.enrolledAt)}</td>
                    <td>${when(d.lastUsedAt)}</td>
                    <td>
                      <form method="post" action=${portalPath(v.idpName, 'account/devices/remove', v.tenantSlug)}>
                        ${csrfInput(v.csrf)}
                        <input type="hidden" name="deviceId" value=${d.id} />
                        <button type="submit" class="secondary" aria-label=${`Remove ${d.name}`}>Remove</button>
                      </form>
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`;
  return html`<section aria-labelledby="devices-title">
    <h2 id="devices-title">Two-step verification devices</h2>
    ${body}
  </section>`;
}
