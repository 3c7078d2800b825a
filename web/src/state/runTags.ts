/**
 * The trigger form's "Run tags" field: comma-separated labels the new run carries, on top
 * of the pipeline's own. Checked in the browser by the server's rules (each tag at most 100
 * characters, no control characters, at most 50 tags); a comma separates tags, so no tag
 * can hold one, as on the server.
 */

/** The key a run-tags error is filed under (parameter names never start with `__`). */
export const RUN_TAGS_KEY = '__run_tags';

const MAX_LENGTH = 100;
const MAX_TAGS = 50;

/** The distinct tags in `text`, in order, or what is wrong with one of them. */
export function parseRunTags(text: string): { tags: string[] } | { error: string } {
  const tags: string[] = [];
  for (const part of text.split(',')) {
    const tag = part.trim();
    if (!tag || tags.includes(tag)) continue;
    if (tag.length > MAX_LENGTH) return { error: `Tag "${tag.slice(0, 20)}…" is longer than ${MAX_LENGTH} characters.` };
    if (/[\u0000-\u001f\u007f-\u009f]/.test(tag)) return { error: `Tag "${tag}" holds a control character.` };
    tags.push(tag);
  }
  if (tags.length > MAX_TAGS) return { error: `At most ${MAX_TAGS} tags (${tags.length} given).` };
  return { tags };
}
