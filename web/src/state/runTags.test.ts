import { describe, expect, it } from 'vitest';
import { fieldErrorsFromServer } from './paramForm';
import { parseRunTags, RUN_TAGS_KEY } from './runTags';

describe('run tags field', () => {
  it('splits on commas, trims, drops empties and repeats, keeps order', () => {
    expect(parseRunTags(' nightly, team:data ,, nightly,x ')).toEqual({ tags: ['nightly', 'team:data', 'x'] });
    expect(parseRunTags('')).toEqual({ tags: [] });
  });

  it('refuses what the server refuses, naming the tag', () => {
    expect(parseRunTags(`ok, ${'a'.repeat(101)}`)).toEqual({ error: `Tag "${'a'.repeat(20)}…" is longer than 100 characters.` });
    expect(parseRunTags('bad\ttag')).toEqual({ error: 'Tag "bad\ttag" holds a control character.' });
    expect(parseRunTags(Array.from({ length: 51 }, (_, i) => `t${i}`).join(','))).toEqual({ error: 'At most 50 tags (51 given).' });
  });

  it("files a server 422 on the tags under the run-tags field, even when a parameter is named tags", () => {
    const detail = [{ loc: ['body', 'tags', 0], msg: 'tag is too long' }];
    expect(fieldErrorsFromServer(detail, ['tags', 'lr'])).toEqual({ [RUN_TAGS_KEY]: 'tag is too long' });
  });
});
