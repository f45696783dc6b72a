// A [section] is meant for the PAM service of its name, i.e. a file in /etc/pam.d. One that names no such file
// applies to nothing, and silently: `[smpt]` for `[smtp]` drops the smtp service's `service=` restriction. The
// guest matches section names to services ignoring ASCII case, so the comparison does too.
import { readdirSync } from "node:fs";
import path from "node:path";

export interface SectionWarning {
  section: string;
  /** the near miss among the PAM services, if any */
  didYouMean: string | null;
  message: string;
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

export function sectionWarnings(sections: readonly string[], pamDir: string): SectionWarning[] {
  let services: string[];
  try {
    services = readdirSync(pamDir).filter((name) => !name.startsWith("."));
  } catch (e) {
    if (sections.length === 0) return [];
    return [{ section: "", didYouMean: null,
      message: `cannot list ${pamDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), so the [section] names are unchecked; give --pam-dir DIR` }];
  }
  const known = new Set(services.map((s) => s.toLowerCase()));
  const warnings: SectionWarning[] = [];
  for (const section of sections) {
    const name = section.toLowerCase();
    if (known.has(name)) continue;
    let best: string | null = null;
    let bestDistance = 3; // a near miss: at most 2 edits
    for (const service of services) {
      const d = editDistance(name, service.toLowerCase());
      if (d < bestDistance) [best, bestDistance] = [service, d];
    }
    const hint = best ? `; did you mean [${best}]?` : `; name the section after a file in ${pamDir}, or delete it`;
    warnings.push({ section, didYouMean: best,
      message: `[${section}] names no PAM service: there is no ${path.join(pamDir, section)}, so its keys apply to no login${hint}` });
  }
  return warnings;
}
