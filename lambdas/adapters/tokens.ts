// Callback tokens: random, URL-safe, stored only as a SHA-256 hash.
import { createHash, randomBytes } from 'node:crypto';
import type { TokenGenerator } from '../core/ports.js';

export const callbackTokens: TokenGenerator = {
  token: () => randomBytes(32).toString('base64url'),
  hash: (token) => createHash('sha256').update(token).digest('hex'),
};
