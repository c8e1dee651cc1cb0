/**
 * Compares two `nft -s -j list table` documents made by the same nft binary on the same host
 * (the live table, and the candidate loaded into a throwaway namespace there). Pure.
 */

type NftObject = Record<string, unknown>;

export interface RuleRef {
  readonly chain: string;
  readonly text: string;
  readonly comment?: string;
}

export interface TableDiff {
  readonly rules: { added: RuleRef[]; removed: RuleRef[]; changed: { chain: string; before: string; after: string }[] };
  readonly chains: { name: string; change: string }[];
  readonly sets: { name: string; added: string[]; removed: string[]; change?: string }[];
  readonly helpers: { name: string; change: string }[];
}

interface Parsed {
  chains: Map<string, Record<string, unknown>>;
  rules: { chain: string; key: string; comment?: string; text: string }[];
  sets: Map<string, { props: string; elements: string[] }>;
  helpers: Map<string, string>;
}

function stripHandles(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripHandles);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (k !== "handle") out[k] = stripHandles(v);
    return out;
  }
  return value;
}

function elementText(elem: unknown): string {
  if (typeof elem === "string" || typeof elem === "number") return String(elem);
  const e = elem as Record<string, unknown>;
  if (e.prefix) {
    const p = e.prefix as { addr: string; len: number };
    return `${p.addr}/${p.len}`;
  }
  if (e.range) {
    const [a, b] = e.range as unknown[];
    return `${elementText(a)}-${elementText(b)}`;
  }
  if (e.elem) return elementText((e.elem as { val: unknown }).val);
  return JSON.stringify(elem);
}

/** Rule lines per chain from a text listing, in listing order (JSON rules come in the same order). */
export function ruleTexts(listing: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let chain: string | undefined;
  for (const raw of listing.split("\n")) {
    const line = raw.trim();
    const start = /^chain (\S+) \{$/.exec(line);
    if (start) {
      chain = start[1]!;
      out.set(chain, []);
      continue;
    }
    if (!chain) continue;
    if (line === "}") {
      chain = undefined;
      continue;
    }
    if (line === "" || /^type \S+ hook /.test(line) || /^policy /.test(line)) continue;
    out.get(chain)!.push(line);
  }
  return out;
}

/**
 * Sets whose elements the kernel (a limit's meter: flags dynamic) or another tool (a block set:
 * flags interval,timeout, or a default timeout) writes, from a text listing: their declaration is compared, their
 * elements never (the JSON listing does not say "dynamic", the text does).
 */
export function ownedElsewhere(listing: string): Set<string> {
  const owned = new Set<string>();
  let set: string | undefined;
  for (const raw of listing.split("\n")) {
    const line = raw.trim();
    const start = /^set (\S+) \{$/.exec(line);
    if (start) set = start[1]!;
    else if (line === "}") set = undefined;
    else if (set && /^flags /.test(line) && /dynamic|timeout/.test(line)) owned.add(set);
    // a set of single addresses with a default timeout: nft lists its `flags timeout` as this line only
    else if (set && /^timeout /.test(line)) owned.add(set);
  }
  return owned;
}

/**
 * Table `table` (family inet) as `nft -s -j list table` lists it, from `nft -t -s -j list ruleset`
 * (every table, no named set's elements) and `nft -s -j list set` documents, one a line, for the
 * sets whose elements are declared and differ from the other side's (observe.sh): block sets' and
 * meters' elements are never read, equal sets' never shipped. "" when the table is absent.
 */
export function tableFromRuleset(rulesetJson: string, setsJson: string, table: string): string {
  if (!rulesetJson.trim()) return "";
  const doc = JSON.parse(rulesetJson) as { nftables: NftObject[] };
  const inTable = (kind: string, body: Record<string, unknown>) =>
    body.family === "inet" && (kind === "table" ? body.name === table : body.table === table);
  const ours = doc.nftables.filter((obj) => {
    const [kind, body] = Object.entries(obj)[0] ?? [];
    return kind === "metainfo" || (kind !== undefined && inTable(kind, body as Record<string, unknown>));
  });
  if (!ours.some((obj) => obj.table)) return "";
  const elements = new Map<string, unknown>();
  for (const line of setsJson.split("\n")) {
    if (!line.trim()) continue;
    for (const obj of (JSON.parse(line) as { nftables: NftObject[] }).nftables) {
      const [kind, body] = Object.entries(obj)[0] ?? [];
      if ((kind === "set" || kind === "map") && inTable(kind, body as Record<string, unknown>)) {
        const b = body as Record<string, unknown>;
        if (b.elem !== undefined) elements.set(`${kind} ${String(b.name)}`, b.elem);
      }
    }
  }
  const merged = ours.map((obj) => {
    const [kind, body] = Object.entries(obj)[0] ?? [];
    const elem =
      kind === "set" || kind === "map" ? elements.get(`${kind} ${String((body as NftObject).name)}`) : undefined;
    return elem === undefined ? obj : { [kind!]: { ...(body as NftObject), elem } };
  });
  return JSON.stringify({ nftables: merged });
}

function parse(json: string, listing: string): Parsed | undefined {
  if (!json.trim()) return undefined;
  const doc = JSON.parse(json) as { nftables: NftObject[] };
  const texts = ruleTexts(listing);
  const seen = new Map<string, number>();
  const parsed: Parsed = { chains: new Map(), rules: [], sets: new Map(), helpers: new Map() };
  for (const obj of doc.nftables.map(stripHandles) as NftObject[]) {
    if (obj.chain) {
      const c = obj.chain as Record<string, unknown>;
      parsed.chains.set(String(c.name), c);
    } else if (obj.rule) {
      const r = obj.rule as { chain: string; expr: unknown; comment?: string };
      const index = seen.get(r.chain) ?? 0;
      seen.set(r.chain, index + 1);
      const text = texts.get(r.chain)?.[index] ?? JSON.stringify(r.expr);
      parsed.rules.push({
        chain: r.chain,
        key: `${r.chain}\u0000${JSON.stringify(r.expr)}\u0000${r.comment ?? ""}`,
        comment: r.comment,
        text,
      });
    } else if (obj.set) {
      const s = obj.set as Record<string, unknown>;
      const { elem, ...props } = s;
      const elements = ((elem as unknown[] | undefined) ?? []).map(elementText).sort();
      parsed.sets.set(String(s.name), { props: JSON.stringify(props), elements });
    } else if (obj["ct helper"]) {
      const h = obj["ct helper"] as Record<string, unknown>;
      parsed.helpers.set(String(h.name), JSON.stringify(h));
    }
  }
  return parsed;
}

/**
 * The rules of `rules` that `others` does not hold, as a multiset: a rule listed twice on one
 * side and once on the other is one left over. Rules match by chain, expression and comment.
 */
function unmatched(rules: Parsed["rules"], others: Parsed["rules"]): RuleRef[] {
  const count = new Map<string, number>();
  for (const r of others) count.set(r.key, (count.get(r.key) ?? 0) + 1);
  const out: RuleRef[] = [];
  for (const r of rules) {
    const n = count.get(r.key) ?? 0;
    if (n > 0) count.set(r.key, n - 1);
    else out.push({ chain: r.chain, text: r.text, comment: r.comment });
  }
  return out;
}

/**
 * Sets named in `sameSets` were compared on the host and found equal there (observe.sh leaves
 * their elements out of both listings): their elements are not compared here, their declarations
 * are. Any other set's elements are taken as listed, none listed being an empty set.
 */
export function diffTables(
  desiredJson: string,
  desiredText: string,
  liveJson: string,
  liveText: string,
  sameSets: ReadonlySet<string> = new Set(),
): TableDiff & { livePresent: boolean } {
  const desired = parse(desiredJson, desiredText);
  const live = parse(liveJson, liveText);
  if (!desired) throw new Error("the candidate table could not be listed on the host");
  const empty: Parsed = { chains: new Map(), rules: [], sets: new Map(), helpers: new Map() };
  const l = live ?? empty;

  const removed = unmatched(desired.rules, l.rules);
  let added = unmatched(l.rules, desired.rules);
  const changed: { chain: string; before: string; after: string }[] = [];
  const stillRemoved: RuleRef[] = [];
  for (const r of removed) {
    const match = r.comment ? added.find((a) => a.chain === r.chain && a.comment === r.comment) : undefined;
    if (match) {
      changed.push({ chain: r.chain, before: r.text, after: match.text });
      added = added.filter((a) => a !== match);
    } else stillRemoved.push(r);
  }

  const chains: { name: string; change: string }[] = [];
  for (const [name, c] of desired.chains) {
    const lc = l.chains.get(name);
    if (!lc) chains.push({ name, change: "missing" });
    else if (lc.policy !== c.policy)
      chains.push({ name, change: `policy ${String(c.policy)} -> ${String(lc.policy)}` });
    else if (lc.hook !== c.hook || lc.prio !== c.prio || lc.type !== c.type)
      chains.push({ name, change: "hook, type or priority changed" });
  }
  for (const name of l.chains.keys())
    if (live && !desired.chains.has(name)) chains.push({ name, change: "unexpected" });

  const sets: { name: string; added: string[]; removed: string[]; change?: string }[] = [];
  const owned = ownedElsewhere(desiredText);
  for (const [name, s] of desired.sets) {
    const ls = l.sets.get(name);
    if (!ls) {
      sets.push({ name, added: [], removed: s.elements, change: "missing" });
      continue;
    }
    if (owned.has(name) || sameSets.has(name)) {
      if (ls.props !== s.props) sets.push({ name, added: [], removed: [], change: "type or flags changed" });
      continue;
    }
    // sets of 100,000 prefixes: membership by Set, not Array.includes (which made observe quadratic: 82 s)
    const liveElements = new Set(ls.elements);
    const desiredElements = new Set(s.elements);
    const addedElements = ls.elements.filter((e) => !desiredElements.has(e));
    const removedElements = s.elements.filter((e) => !liveElements.has(e));
    const change = ls.props !== s.props ? "type or flags changed" : undefined;
    if (addedElements.length || removedElements.length || change)
      sets.push({ name, added: addedElements, removed: removedElements, ...(change ? { change } : {}) });
  }
  for (const [name, s] of l.sets)
    if (!desired.sets.has(name)) sets.push({ name, added: s.elements, removed: [], change: "unexpected" });

  const helpers: { name: string; change: string }[] = [];
  for (const [name, h] of desired.helpers) {
    const lh = l.helpers.get(name);
    if (!lh) helpers.push({ name, change: "missing" });
    else if (lh !== h) helpers.push({ name, change: "changed" });
  }
  for (const name of l.helpers.keys()) if (!desired.helpers.has(name)) helpers.push({ name, change: "unexpected" });

  return { livePresent: live !== undefined, rules: { added, removed: stillRemoved, changed }, chains, sets, helpers };
}
