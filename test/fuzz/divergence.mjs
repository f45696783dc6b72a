// The cases where the guest may refuse a reply that the reference reader (xmldom plus the shape rules) reads: each
// kind named, with why the guest is right, and a bound on its share of the runs. A refusal of any other kind is a
// finding (bound 0): either the guest is wrong, or a new kind to be understood and added here with its reason.
// Shared by test/fuzz.test.ts and scripts/fuzz.mjs.

export const ALLOWED_DIVERGENCE = [
  {
    kind: "content before the root element",
    why: "xmldom drops text before the root element silently; XML 1.0 allows only whitespace, comments and PIs there",
    match: /content before the root element/,
    maxShare: 0.025,
  },
  {
    kind: "forbidden namespace declaration",
    why: "declaring xmlns, rebinding xml, binding a reserved namespace or an empty one: forbidden by Namespaces in XML 1.0, read by xmldom",
    match: /the xmlns prefix cannot be declared|the xml prefix cannot be rebound|reserved namespace bound to another prefix|prefix bound to an empty namespace/,
    maxShare: 0.003,
  },
  {
    kind: "malformed markup xmldom tolerates",
    why: "'<' in an attribute value, ']]>' in text, a malformed or mismatched end tag: not well-formed, xmldom reads on",
    match: /'<' in attribute value|']]>' in text|malformed end tag|mismatched end tag/,
    maxShare: 0.003,
  },
];

/** The named kind of a refusal (the guest's reason), or null when it is none of the allowed ones. */
export function divergenceKind(reason) {
  const hit = ALLOWED_DIVERGENCE.find((d) => d.match.test(reason));
  return hit ? hit.kind : null;
}

/** The kinds over their bound in `counts` (kind -> runs) out of `runs`; empty when every kind is within it. */
export function divergenceOverBounds(counts, runs) {
  const out = [];
  for (const d of ALLOWED_DIVERGENCE) {
    const n = counts[d.kind] ?? 0;
    if (n > d.maxShare * runs) out.push(`${d.kind}: ${n} of ${runs} runs, bound ${(d.maxShare * 100).toFixed(1)} %`);
  }
  return out;
}
