import type { RouteConfig } from './config.js';
import type { LeadInput } from './lead.js';

export interface RouteOptions {
  /** The lead is flagged `duplicate_of`: routes with `forwardDuplicates: false` do not count. */
  duplicate: boolean;
}

const matches = (allowed: string[], value: string): boolean => allowed.includes('*') || allowed.includes(value);

/**
 * Postal codes compare without case or spaces, so a UK "sw1a 1aa" matches "SW1A1AA" and a
 * French "75 011" matches "75*"; an entry ending in '*' is a prefix.
 */
const canonicalPostalCode = (code: string): string => code.replace(/\s+/g, '').toUpperCase();

function matchesPostalCode(entries: string[] | null, postalCode: string | undefined): boolean {
  if (entries === null) return true;
  // A route naming postal codes is about a place; a lead that gives none is not known to be there.
  if (postalCode === undefined) return false;
  const code = canonicalPostalCode(postalCode);
  return entries.some((entry) => {
    const wanted = canonicalPostalCode(entry);
    return wanted.endsWith('*') ? code.startsWith(wanted.slice(0, -1)) : code === wanted;
  });
}

function matchesConsent(wanted: RouteConfig['consent'], lead: LeadInput): boolean {
  // A flag the lead does not carry counts as false: consent is never presumed.
  return (['contact', 'marketing'] as const).every(
    (flag) => wanted[flag] === undefined || wanted[flag] === (lead.consent?.[flag] ?? false),
  );
}

function matchesMeta(wanted: Record<string, string[]>, lead: LeadInput): boolean {
  return Object.entries(wanted).every(([key, values]) => {
    const value = lead.meta?.[key];
    return value !== undefined && values.includes(value);
  });
}

/** Whether one route takes the lead: every filter the route sets must hold. */
export function routeMatches(route: RouteConfig, brand: string, lead: LeadInput, options: RouteOptions): boolean {
  return (
    (!options.duplicate || route.forwardDuplicates) &&
    matches(route.brands, brand) &&
    matches(route.services, lead.service) &&
    matchesPostalCode(route.postalCodes, lead.contact.postal_code) &&
    matchesConsent(route.consent, lead) &&
    matchesMeta(route.meta, lead)
  );
}

/** The ids of every destination whose route matches the lead, each once, in config order. */
export function routeLead(
  routes: RouteConfig[],
  brand: string,
  lead: LeadInput,
  options: RouteOptions = { duplicate: false },
): string[] {
  const destinations = new Set<string>();
  for (const route of routes) {
    if (routeMatches(route, brand, lead, options)) {
      for (const destination of route.destinations) destinations.add(destination);
    }
  }
  return [...destinations];
}
