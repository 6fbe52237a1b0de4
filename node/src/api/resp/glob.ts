/**
 * Redis glob patterns (KEYS, SCAN MATCH, CONFIG GET) over bytes: `*`, `?`,
 * `[abc]`, `[^a]`, `[a-z]` and `\` escapes, with redis' quirks (an unclosed
 * class runs to the end of the pattern, a reversed range is swapped).
 */

type Token =
  | { t: 'star' }
  | { t: 'any' }
  | { t: 'lit'; c: number }
  | { t: 'class'; neg: boolean; ranges: Array<[number, number]> };

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

function tokenize(p: Buffer): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === 0x2a /* * */) {
      if (out[out.length - 1]?.t !== 'star') out.push({ t: 'star' });
      i++;
    } else if (c === 0x3f /* ? */) {
      out.push({ t: 'any' });
      i++;
    } else if (c === 0x5c /* \ */ && i + 1 < p.length) {
      out.push({ t: 'lit', c: p[i + 1]! });
      i += 2;
    } else if (c === 0x5b /* [ */) {
      i++;
      const neg = p[i] === 0x5e; /* ^ */
      if (neg) i++;
      const ranges: Array<[number, number]> = [];
      while (i < p.length && p[i] !== 0x5d /* ] */) {
        if (p[i] === 0x5c && i + 1 < p.length) {
          ranges.push([p[i + 1]!, p[i + 1]!]);
          i += 2;
        } else if (i + 2 < p.length && p[i + 1] === 0x2d /* - */ && p[i + 2] !== 0x5d) {
          const a = p[i]!;
          const b = p[i + 2]!;
          ranges.push(a <= b ? [a, b] : [b, a]);
          i += 3;
        } else {
          ranges.push([p[i]!, p[i]!]);
          i++;
        }
      }
      i++; // the ']' (or the end of an unclosed class)
      out.push({ t: 'class', neg, ranges });
    } else {
      out.push({ t: 'lit', c });
      i++;
    }
  }
  return out;
}

function one(tok: Token, c: number, nocase: boolean): boolean {
  switch (tok.t) {
    case 'any':
      return true;
    case 'lit':
      return nocase ? lower(tok.c) === lower(c) : tok.c === c;
    case 'class': {
      let hit = false;
      for (const [a, b] of tok.ranges) {
        if ((c >= a && c <= b) || (nocase && lower(c) >= lower(a) && lower(c) <= lower(b))) {
          hit = true;
          break;
        }
      }
      return tok.neg ? !hit : hit;
    }
    case 'star':
      return false;
  }
}

/**
 * Compiles a pattern once; the matcher runs in O(pattern * subject) using the
 * classic last-star backtracking, which is exact because every other token
 * matches exactly one byte (no exponential blow-up on `a*a*a*...b`).
 */
export function compileGlob(pattern: Buffer | string, nocase = false): (subject: Buffer) => boolean {
  const toks = tokenize(typeof pattern === 'string' ? Buffer.from(pattern) : pattern);
  if (toks.length === 1 && toks[0]!.t === 'star') return () => true;
  return (s: Buffer): boolean => {
    let ti = 0;
    let si = 0;
    let starTi = -1;
    let starSi = 0;
    while (si < s.length) {
      const tok = toks[ti];
      if (tok !== undefined && tok.t === 'star') {
        starTi = ti++;
        starSi = si;
      } else if (tok !== undefined && one(tok, s[si]!, nocase)) {
        ti++;
        si++;
      } else if (starTi >= 0) {
        ti = starTi + 1;
        si = ++starSi;
      } else {
        return false;
      }
    }
    while (ti < toks.length && toks[ti]!.t === 'star') ti++;
    return ti === toks.length;
  };
}

export function globMatch(pattern: Buffer | string, subject: Buffer | string, nocase = false): boolean {
  return compileGlob(pattern, nocase)(typeof subject === 'string' ? Buffer.from(subject) : subject);
}
