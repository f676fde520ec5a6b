import type { RouteConfig } from './config.js';
import type { LeadInput } from './lead.js';

const matches = (allowed: string[], value: string): boolean => allowed.includes('*') || allowed.includes(value);

/** The ids of every destination whose route matches the lead, each once, in config order. */
export function routeLead(routes: RouteConfig[], brand: string, lead: LeadInput): string[] {
  const destinations = new Set<string>();
  for (const route of routes) {
    if (matches(route.brands, brand) && matches(route.services, lead.service)) {
      for (const destination of route.destinations) destinations.add(destination);
    }
  }
  return [...destinations];
}
