import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, loadSecretBox, SecretBoxError } from '../server/shared/secret-key.js';

describe('server key (AES-256-GCM)', () => {
  it('round-trips, binds the context, and refuses tampering', () => {
    const box = createSecretBox([randomBytes(32)]);
    const sealed = box.seal('Passw0rd!secret', 'upload:1');
    expect(sealed.includes(Buffer.from('Passw0rd'))).toBe(false);
    expect(box.open(sealed, 'upload:1').toString()).toBe('Passw0rd!secret');
    expect(() => box.open(sealed, 'upload:2')).toThrow(SecretBoxError);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => box.open(flipped, 'upload:1')).toThrow(SecretBoxError);
    expect(() => box.open(Buffer.from('x'), 'upload:1')).toThrow(SecretBoxError);
  });

  it('rotation: values sealed with a previous key still open; new ones use the new key', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createSecretBox([oldKey]).seal('a', 'c');
    const rotated = createSecretBox([newKey, oldKey]);
    expect(rotated.open(before, 'c').toString()).toBe('a');
    expect(() => createSecretBox([newKey]).open(before, 'c')).toThrow(/ROSTER_SECRET_KEY_PREVIOUS/);
    expect(createSecretBox([newKey]).open(rotated.seal('b', 'c'), 'c').toString()).toBe('b');
  });

  it('generates the key once under DATA_DIR with owner-only permissions, or takes ROSTER_SECRET_KEY', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-key-'));
    try {
      const a = loadSecretBox({ dataDir: dir });
      const b = loadSecretBox({ dataDir: dir });
      expect(a.keyId).toBe(b.keyId);
      expect(fs.statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
      expect(b.open(a.seal('x', 'c'), 'c').toString()).toBe('x');
      const hex = randomBytes(32).toString('hex');
      expect(loadSecretBox({ dataDir: dir, secretKey: hex }).keyId).not.toBe(a.keyId);
      expect(() => loadSecretBox({ dataDir: dir, secretKey: 'short' })).toThrow(/32 bytes/);
      fs.chmodSync(path.join(dir, 'secret.key'), 0o644);
      const warnings: string[] = [];
      loadSecretBox({ dataDir: dir, warn: (m) => warnings.push(m) });
      expect(warnings[0]).toMatch(/readable by other users/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
