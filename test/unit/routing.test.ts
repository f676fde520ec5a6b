import { describe, expect, it } from 'vitest';
import type { LeadInput } from '../../src/domain/lead.js';
import { routeLead } from '../../src/domain/routing.js';
import { route } from '../helpers/config-factories.js';

const lead = (service: string, extra: Partial<LeadInput> = {}): LeadInput => ({
  contact: { email: 'a@b.fr', ...extra.contact },
  service,
  ...(extra.consent ? { consent: extra.consent } : {}),
  ...(extra.meta ? { meta: extra.meta } : {}),
});
const at = (postal_code: string | undefined, service = 'menage'): LeadInput =>
  lead(service, { contact: postal_code === undefined ? {} : { postal_code } });

const single = (overrides: Parameters<typeof route>[0]) => [route(overrides)];

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

  describe('postal codes', () => {
    const paris = single({ postalCodes: ['75*', '92*', '69001'], destinations: ['paris'] });

    it('matches a prefix entry ending in * and an exact entry', () => {
      expect(routeLead(paris, 'b', at('75011'))).toEqual(['paris']);
      expect(routeLead(paris, 'b', at('92100'))).toEqual(['paris']);
      expect(routeLead(paris, 'b', at('69001'))).toEqual(['paris']);
    });

    it('an exact entry is not a prefix, and a prefix must start the code', () => {
      expect(routeLead(paris, 'b', at('690012'))).toEqual([]);
      expect(routeLead(paris, 'b', at('69002'))).toEqual([]);
      expect(routeLead(paris, 'b', at('13001'))).toEqual([]);
      expect(routeLead(paris, 'b', at('17500'))).toEqual([]);
    });

    it('ignores case and spaces', () => {
      const london = single({ postalCodes: ['SW1A 1AA', 'ec*'], destinations: ['london'] });
      expect(routeLead(london, 'b', at('sw1a1aa'))).toEqual(['london']);
      expect(routeLead(london, 'b', at('EC1A 1BB'))).toEqual(['london']);
      expect(routeLead(paris, 'b', at('75 011'))).toEqual(['paris']);
    });

    it('a lead without a postal code never matches a route naming postal codes', () => {
      expect(routeLead(paris, 'b', at(undefined))).toEqual([]);
      expect(routeLead(single({ postalCodes: ['*'], destinations: ['any'] }), 'b', at(undefined))).toEqual([]);
    });

    it('a route without postal codes takes leads with or without one', () => {
      const anywhere = single({ destinations: ['main'] });
      expect(routeLead(anywhere, 'b', at(undefined))).toEqual(['main']);
      expect(routeLead(anywhere, 'b', at('13001'))).toEqual(['main']);
    });
  });

  describe('consent', () => {
    const marketing = single({ consent: { marketing: true }, destinations: ['marketing'] });
    const noMarketing = single({ consent: { marketing: false }, destinations: ['ops'] });

    it('every listed flag must equal the lead\'s', () => {
      expect(routeLead(marketing, 'b', lead('menage', { consent: { marketing: true } }))).toEqual(['marketing']);
      expect(routeLead(marketing, 'b', lead('menage', { consent: { marketing: false } }))).toEqual([]);
      expect(routeLead(noMarketing, 'b', lead('menage', { consent: { marketing: false } }))).toEqual(['ops']);
      expect(routeLead(noMarketing, 'b', lead('menage', { consent: { marketing: true } }))).toEqual([]);
    });

    it('a flag missing on the lead counts as false', () => {
      expect(routeLead(marketing, 'b', lead('menage'))).toEqual([]);
      expect(routeLead(marketing, 'b', lead('menage', { consent: { contact: true } }))).toEqual([]);
      expect(routeLead(noMarketing, 'b', lead('menage'))).toEqual(['ops']);
    });

    it('several flags must all hold; unlisted flags are free', () => {
      const both = single({ consent: { contact: true, marketing: true }, destinations: ['both'] });
      expect(routeLead(both, 'b', lead('menage', { consent: { contact: true, marketing: true } }))).toEqual(['both']);
      expect(routeLead(both, 'b', lead('menage', { consent: { contact: false, marketing: true } }))).toEqual([]);
      expect(routeLead(marketing, 'b', lead('menage', { consent: { contact: false, marketing: true } }))).toEqual(['marketing']);
    });
  });

  describe('meta', () => {
    const campaign = single({ meta: { campaign: ['spring', 'summer'], channel: ['web'] }, destinations: ['campaigns'] });

    it('every listed key must hold one of its values', () => {
      expect(routeLead(campaign, 'b', lead('menage', { meta: { campaign: 'spring', channel: 'web' } }))).toEqual(['campaigns']);
      expect(routeLead(campaign, 'b', lead('menage', { meta: { campaign: 'summer', channel: 'web', other: 'x' } }))).toEqual(['campaigns']);
      expect(routeLead(campaign, 'b', lead('menage', { meta: { campaign: 'autumn', channel: 'web' } }))).toEqual([]);
      expect(routeLead(campaign, 'b', lead('menage', { meta: { campaign: 'spring' } }))).toEqual([]);
      expect(routeLead(campaign, 'b', lead('menage'))).toEqual([]);
    });

    it('values compare exactly', () => {
      expect(routeLead(campaign, 'b', lead('menage', { meta: { campaign: 'Spring', channel: 'web' } }))).toEqual([]);
    });
  });

  it('combines every rule: all must hold', () => {
    const rules = single({
      brands: ['merciplus'],
      services: ['menage'],
      postalCodes: ['75*'],
      consent: { marketing: true },
      meta: { campaign: ['spring'] },
      destinations: ['target'],
    });
    const good: LeadInput = {
      contact: { email: 'a@b.fr', postal_code: '75011' },
      service: 'menage',
      consent: { marketing: true },
      meta: { campaign: 'spring' },
    };
    expect(routeLead(rules, 'merciplus', good)).toEqual(['target']);
    expect(routeLead(rules, 'kidcare', good)).toEqual([]);
    expect(routeLead(rules, 'merciplus', { ...good, service: 'jardinage' })).toEqual([]);
    expect(routeLead(rules, 'merciplus', { ...good, contact: { ...good.contact, postal_code: '13001' } })).toEqual([]);
    expect(routeLead(rules, 'merciplus', { ...good, consent: { marketing: false } })).toEqual([]);
    expect(routeLead(rules, 'merciplus', { ...good, meta: { campaign: 'summer' } })).toEqual([]);
  });

  it('fans out across routes of different rules, each destination once, in config order', () => {
    const fanOut = [
      route({ postalCodes: ['75*'], destinations: ['paris-crm'] }),
      route({ consent: { marketing: true }, destinations: ['marketing-crm', 'paris-crm'] }),
      route({ postalCodes: ['13*'], destinations: ['default-crm'] }),
    ];
    const parisian: LeadInput = { contact: { email: 'a@b.fr', postal_code: '75011' }, service: 'menage', consent: { marketing: true } };
    expect(routeLead(fanOut, 'b', parisian)).toEqual(['paris-crm', 'marketing-crm']);
    expect(routeLead(fanOut, 'b', at('13001'))).toEqual(['default-crm']);
    expect(routeLead(fanOut, 'b', at('33000'))).toEqual([]);
  });

  describe('duplicates', () => {
    const withDuplicates = [
      route({ destinations: ['crm-main'] }),
      route({ destinations: ['call-centre'], forwardDuplicates: false }),
    ];

    it('a duplicate skips routes with forwardDuplicates false and keeps the others', () => {
      expect(routeLead(withDuplicates, 'b', lead('menage'), { duplicate: true })).toEqual(['crm-main']);
    });

    it('a lead that is no duplicate takes every matching route', () => {
      expect(routeLead(withDuplicates, 'b', lead('menage'), { duplicate: false })).toEqual(['crm-main', 'call-centre']);
      expect(routeLead(withDuplicates, 'b', lead('menage'))).toEqual(['crm-main', 'call-centre']);
    });

    it('a duplicate only non-forwarding routes match goes nowhere', () => {
      expect(routeLead(withDuplicates.slice(1), 'b', lead('menage'), { duplicate: true })).toEqual([]);
    });

    it('a destination a forwarding route also names is still reached', () => {
      const overlapping = [
        route({ destinations: ['call-centre'], forwardDuplicates: false }),
        route({ services: ['menage'], destinations: ['call-centre'] }),
      ];
      expect(routeLead(overlapping, 'b', lead('menage'), { duplicate: true })).toEqual(['call-centre']);
      expect(routeLead(overlapping, 'b', lead('jardinage'), { duplicate: true })).toEqual([]);
    });
  });
});
