/**
 * Profile text counted as X counts it (graphemes, not UTF-16 units), and kit templates that keep each
 * member's own value: only the member's part is shortened, at a grapheme boundary, with "…".
 */
import { describe, expect, it } from 'vitest';
import { checkProfileText, countGraphemes, fillTemplate, PROFILE_TEXT_LIMITS, ProfileTextError } from '../../src/profile/text.js';

const FAMILY = '👩‍👩‍👧'; // 8 UTF-16 units, one character to X
const FLAG = '🇩🇪'; // 4 units
const TAG_FLAG = '🏴󠁧󠁢󠁳󠁣󠁴󠁿'; // 14 units (Scotland)
const E_ACUTE = 'e\u0301'; // e + combining acute: one character

function refusal(run: () => unknown): ProfileTextError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProfileTextError);
    return error as ProfileTextError;
  }
  throw new Error('not refused');
}

describe('counting', () => {
  it('counts graphemes: ZWJ families, flags, tag flags and combining marks are one each', () => {
    expect(countGraphemes(FAMILY)).toBe(1);
    expect(countGraphemes(FLAG + FLAG)).toBe(2);
    expect(countGraphemes(TAG_FLAG)).toBe(1);
    expect(countGraphemes(`caf${E_ACUTE}`)).toBe(4);
    expect(countGraphemes('')).toBe(0);
  });

  it('counts a long text right across its segmenting windows, in bounded CPU time', () => {
    // Units that straddle a 256-unit window: families (8), flags (4) and combining pairs (2), offset by one letter.
    const text = `x${`${FAMILY}${FLAG}${E_ACUTE}a`.repeat(5000)}`;
    const started = process.cpuUsage();
    expect(countGraphemes(text)).toBe(1 + 4 * 5000);
    const used = process.cpuUsage(started);
    // 75,001 units; segmenting it whole took 2.9 s on Node 20, in windows about 30 ms.
    expect((used.user + used.system) / 1000).toBeLessThan(1_000);
  });

  it('counts a cluster that a window edge falls inside (between surrogate halves, after a ZWJ) once', () => {
    // Shifting the text one unit at a time puts every position of a family and a flag at the 256-unit edge.
    const wrong: number[] = [];
    for (let shift = 0; shift < 16; shift++) {
      if (countGraphemes(`${'x'.repeat(shift)}${`${FAMILY}${FLAG}`.repeat(40)}`) !== shift + 80) wrong.push(shift);
    }
    expect(wrong).toEqual([]);
  });
});

describe('checkProfileText', () => {
  it('refuses a 51-grapheme name with its length and the limit', () => {
    const error = refusal(() => checkProfileText({ name: 'a'.repeat(51) }));
    expect(error).toMatchObject({ kind: 'text-too-long', variant: 'name', params: { length: 51, max: 50 } });
    expect(error.userMessage).toBe('That name has 51 characters; X allows at most 50 in a display name.');
  });

  it('accepts a name of 50 emoji, ZWJ sequences and flags among them (370 UTF-16 units)', () => {
    const name = [FAMILY, FLAG, TAG_FLAG, '👍🏽', '🧑🏿‍🚀'].join('').repeat(10);
    expect(countGraphemes(name)).toBe(50);
    expect(name.length).toBe(370);
    expect(() => checkProfileText({ name })).not.toThrow();
    expect(refusal(() => checkProfileText({ name: `${name}${FAMILY}` })).params).toEqual({ length: 51, max: 50 });
  });

  it('applies each field its own limit', () => {
    expect(() => checkProfileText({ description: FAMILY.repeat(160), url: 'u'.repeat(100), location: FLAG.repeat(30) })).not.toThrow();
    expect(refusal(() => checkProfileText({ description: 'd'.repeat(161) })).variant).toBe('description');
    expect(refusal(() => checkProfileText({ url: 'u'.repeat(101) })).variant).toBe('url');
    expect(refusal(() => checkProfileText({ location: FLAG.repeat(31) }))).toMatchObject({ variant: 'location', params: { length: 31, max: 30 } });
    expect(PROFILE_TEXT_LIMITS).toEqual({ name: 50, description: 160, url: 100, location: 30 });
  });
});

describe('fillTemplate', () => {
  it("keeps each member's own name when it fits", () => {
    expect(fillTemplate('🎃 {name}', { name: 'Ada Lovelace' }, 50)).toBe('🎃 Ada Lovelace');
    expect(fillTemplate('{bio} — team 🎃', { bio: 'Makes things.' }, 160)).toBe('Makes things. — team 🎃');
    expect(fillTemplate('🎃 {name}', {}, 50)).toBe('🎃 ');
  });

  it("cuts only the member's part, with '…', to exactly the limit, never the fixed text", () => {
    const name = 'Bartholomew Featherstonehaugh-Cholmondeley the Third of Yorkshire'; // 65
    const filled = fillTemplate('🎃 {name} 🎃', { name }, 50);
    expect(countGraphemes(filled)).toBe(50);
    expect(filled.startsWith('🎃 Bartholomew Featherstonehaugh-Cholmondeley')).toBe(true);
    expect(filled.endsWith('… 🎃')).toBe(true);
  });

  it('cuts at grapheme boundaries: a family, a flag or a combining mark is kept whole or left out', () => {
    const name = `${FAMILY}${FLAG}${E_ACUTE}`.repeat(20); // 60 graphemes
    const filled = fillTemplate('{name}!', { name }, 50);
    expect(countGraphemes(filled)).toBe(50);
    const kept = filled.slice(0, -'…!'.length);
    expect(name.startsWith(kept)).toBe(true);
    expect(countGraphemes(kept)).toBe(48);
    // The last kept character is whole: the 48th, the accented e that ends the 16th family-flag-é triple.
    expect(kept.endsWith(E_ACUTE)).toBe(true);
    expect(filled.endsWith('…!')).toBe(true);
    // A combining mark is never split from its letter.
    const accents = fillTemplate('x {name}', { name: E_ACUTE.repeat(60) }, 10);
    expect(accents).toBe(`x ${E_ACUTE.repeat(7)}…`);
  });

  it('shortens the longest value first when a template has both', () => {
    const filled = fillTemplate('{name}: {bio}', { name: 'Ada', bio: 'b'.repeat(200) }, 160);
    expect(filled).toBe(`Ada: ${'b'.repeat(154)}…`);
    expect(countGraphemes(filled)).toBe(160);
    const both = fillTemplate('{name} {bio}', { name: 'n'.repeat(40), bio: 'b'.repeat(40) }, 21);
    expect(both).toBe(`${'n'.repeat(9)}… ${'b'.repeat(9)}…`);
  });

  it("drops the space before '…' and leaves out a value when not even '…' fits", () => {
    expect(fillTemplate('{name}', { name: 'Ada Lovelace Byron' }, 5)).toBe('Ada…');
    expect(fillTemplate('12345 {name}', { name: 'Ada' }, 6)).toBe('12345 ');
    expect(fillTemplate('1234 {name}', { name: 'Ada' }, 6)).toBe('1234 …');
  });

  it('refuses a template whose fixed text alone is over the limit', () => {
    const error = refusal(() => fillTemplate(`${'🎃'.repeat(51)}{name}`, { name: 'Ada' }, 50));
    expect(error).toMatchObject({ kind: 'template-too-long', params: { length: 51, max: 50 } });
    expect(fillTemplate(`${'🎃'.repeat(50)}{name}`, { name: 'Ada' }, 50)).toBe('🎃'.repeat(50));
  });

  it('bounds the work for a huge value: only what can fit is segmented', () => {
    const started = process.cpuUsage();
    const filled = fillTemplate('🎃 {bio}', { bio: 'word '.repeat(200_000) }, 160);
    const used = process.cpuUsage(started);
    expect(countGraphemes(filled)).toBeLessThanOrEqual(160);
    expect(filled.endsWith('…')).toBe(true);
    expect((used.user + used.system) / 1000).toBeLessThan(1_000);
  });
});
