import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { BrandConfig } from '../../src/domain/config.js';
import { brand as makeBrand } from '../helpers/config-factories.js';
import { bearerToken, createKeyResolver, presentedKey, safeEqual } from '../../src/http/auth.js';

const brand = (id: string, apiKeys: string[], publishableKeys: string[] = []): BrandConfig => makeBrand({ id, apiKeys, publishableKeys });
const req = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;

describe('createKeyResolver', () => {
  const resolve = createKeyResolver([brand('a', ['key-a1', 'key-a2'], ['pk-a']), brand('b', ['key-b'])]);

  it('names the brand of any of its keys, and the kind of key', () => {
    expect(resolve('key-a2')).toEqual({ brand: expect.objectContaining({ id: 'a' }), kind: 'secret' });
    expect(resolve('key-b')?.brand.id).toBe('b');
    expect(resolve('pk-a')).toEqual({ brand: expect.objectContaining({ id: 'a' }), kind: 'publishable' });
  });

  it('knows no prefix, suffix or empty key', () => {
    for (const key of ['key-a', 'key-a1 ', 'key-b-extra', '', 'KEY-B']) expect(resolve(key), key).toBeNull();
  });
});

describe('presentedKey', () => {
  it('reads Bearer (any case) or X-Api-Key', () => {
    expect(presentedKey(req({ authorization: 'Bearer k1' }))).toBe('k1');
    expect(presentedKey(req({ authorization: 'bearer k1' }))).toBe('k1');
    expect(presentedKey(req({ 'x-api-key': 'k2' }))).toBe('k2');
    expect(presentedKey(req({ authorization: 'Bearer k1', 'x-api-key': 'k1' }))).toBe('k1');
  });

  it('refuses malformed or conflicting credentials', () => {
    expect(presentedKey(req({}))).toBeNull();
    expect(presentedKey(req({ authorization: 'Bearer' }))).toBeNull();
    expect(presentedKey(req({ authorization: 'Basic abc' }))).toBeNull();
    expect(presentedKey(req({ authorization: 'Bearer a b' }))).toBeNull();
    expect(presentedKey(req({ authorization: 'Bearer k1', 'x-api-key': 'k2' }))).toBeNull();
    expect(presentedKey(req({ 'x-api-key': '' }))).toBeNull();
  });
});

describe('admin token helpers', () => {
  it('compares strings of any length', () => {
    expect(safeEqual('token', 'token')).toBe(true);
    expect(safeEqual('token', 'token2')).toBe(false);
    expect(safeEqual('', 'token')).toBe(false);
    expect(bearerToken(req({ authorization: 'Bearer t' }))).toBe('t');
    expect(bearerToken(req({}))).toBeNull();
  });
});
