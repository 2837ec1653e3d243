/** Plain-text and HTML bodies of every message the service sends. */
export type MailTemplate =
  | { template: 'invitation'; vars: { firstName: string; tenantName: string; link: string; expiresAt: Date; idpName: string } }
  | { template: 'password-reset'; vars: { firstName: string; tenantName: string; link: string; expiresAt: Date } }
  | { template: 'mfa-enrollment'; vars: { firstName: string; tenantName: string; link: string; expiresAt?: Date | null } };

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function layout(title: string, paragraphs: string[], link: string, cta: string): string {
  return `<!doctype html><html><body style="font-family:sans-serif;max-width:560px">
<h2>${esc(title)}</h2>
${paragraphs.map((p) => `<p>${esc(p)}</p>`).join('\n')}
<p><a href="${esc(link)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">${esc(cta)}</a></p>
<p style="color:#666;font-size:12px">If the button does not work, copy this address into your browser:<br>${esc(link)}</p>
</body></html>`;
}

export function render(m: MailTemplate): Rendered {
  switch (m.template) {
    case 'invitation': {
      const v = m.vars;
      const expires = v.expiresAt.toUTCString();
      const lines = [
        `Hello ${v.firstName || 'there'},`,
        `You have been invited to ${v.tenantName}. Set up your account through the ${v.idpName} sign-in portal.`,
        `This link works once and expires on ${expires}.`,
      ];
      return {
        subject: `You're invited to ${v.tenantName}`,
        text: `${lines.join('\n\n')}\n\n${v.link}\n`,
        html: layout(`Welcome to ${v.tenantName}`, lines, v.link, 'Set up your account'),
      };
    }
    case 'password-reset': {
      const v = m.vars;
      const lines = [
        `Hello ${v.firstName || 'there'},`,
        `An administrator of ${v.tenantName} asked for your password to be reset.`,
        `This link works once and expires on ${v.expiresAt.toUTCString()}.`,
      ];
      return {
        subject: `Reset your ${v.tenantName} password`,
        text: `${lines.join('\n\n')}\n\n${v.link}\n`,
        html: layout('Reset your password', lines, v.link, 'Choose a new password'),
      };
    }
    case 'mfa-enrollment': {
      const v = m.vars;
      const lines = [
        `Hello ${v.firstName || 'there'},`,
        `${v.tenantName} now protects your account with multi-factor authentication. Enrol a device to continue signing in.`,
        ...(v.expiresAt ? [`This link expires on ${v.expiresAt.toUTCString()}.`] : []),
      ];
      return {
        subject: `Enrol in multi-factor authentication for ${v.tenantName}`,
        text: `${lines.join('\n\n')}\n\n${v.link}\n`,
        html: layout('Enrol your MFA device', lines, v.link, 'Enrol a device'),
      };
    }
  }
}
