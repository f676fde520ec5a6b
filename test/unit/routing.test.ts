import { describe, expect, it } from 'vitest';
import { routeLead } from '../../src/domain/routing.js';
import { route } from '../helpers/config-factories.js';

const lead = (service: string) => ({ contact: { email: 'a@b.fr' }, service });

describe('routeLead', () => {
  const routes = [
    route({ destinations: ['crm-main'] }),
    route({ brands: ['merciplus'], services: ['menage', 'repassage'], destinations: ['call-centre', 'crm-main'] }),
    route({ brands: ['kidcare'], destinations: ['kid-crm'] }),
  ];

  it('fans out to every matching destination, each once, in config order', () => {
    expect(routeLead(routes, 'merciplus', lead('menage'))).toEqual(['crm-main', 'call-centre']);
  });

  it('filters on brand and service', () => {
    expect(routeLead(routes, 'merciplus', lead('jardinage'))).toEqual(['crm-main']);
    expect(routeLead(routes, 'kidcare', lead('garde'))).toEqual(['crm-main', 'kid-crm']);
  });

  it('returns nothing when no route matches (the lead is then unrouted)', () => {
    expect(routeLead(routes.slice(1), 'other', lead('menage'))).toEqual([]);
    expect(routeLead([], 'merciplus', lead('menage'))).toEqual([]);
  });
});
