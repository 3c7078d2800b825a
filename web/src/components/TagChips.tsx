import { Link } from 'react-router';

/** The runs list filtered by `tag`. */
export function tagSearch(tag: string): string {
  return `?${new URLSearchParams({ tag }).toString()}`;
}

/**
 * A run's tags as chips. With `onTag` each chip is a toggle button that filters the list
 * it sits in (`active`: the tag filtered by now); without, a link to the runs list
 * filtered by that tag.
 */
export function TagChips({
  tags,
  active = '',
  onTag,
}: {
  tags: readonly string[] | undefined;
  active?: string;
  onTag?: (tag: string) => void;
}) {
  if (!tags || tags.length === 0) return null;
  return (
    <ul className="tags" aria-label="Tags">
      {tags.map((tag) => (
        <li key={tag}>
          {onTag ? (
            <button
              type="button"
              className="tag-chip"
              aria-pressed={tag === active}
              aria-label={`Filter by tag ${tag}`}
              onClick={() => onTag(tag)}
            >
              {tag}
            </button>
          ) : (
            <Link className="tag-chip" to={{ pathname: '/', search: tagSearch(tag) }} aria-label={`Runs tagged ${tag}`}>
              {tag}
            </Link>
          )}
        </li>
      ))}
    </ul>
  );
}
