/** The contract's example lead: the OpenAPI example, and the body tests and benchmarks send. */
export const LEAD_EXAMPLE = {
  contact: {
    first_name: 'Camille',
    last_name: 'Martin',
    email: 'Camille.Martin@Example.fr',
    phone: '06 12 34 56 78',
    postal_code: '75011',
    city: 'Paris',
  },
  service: 'menage',
  message: 'Devis pour 3 h de ménage par semaine',
  consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté" },
  source: { url: 'https://www.merci-plus.example/devis', form: 'devis', utm: { source: 'google', medium: 'cpc' } },
  meta: { campaign: 'spring' },
};
