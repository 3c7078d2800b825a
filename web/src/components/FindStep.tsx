import { useId, useState, type FormEvent } from 'react';

/** Best match for a query: an exact name, then a name starting with it, then containing it. */
export function findStep(ids: readonly string[], query: string): string | null {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  let starts: string | null = null;
  let contains: string | null = null;
  for (const id of ids) {
    const lower = id.toLowerCase();
    if (lower === q) return id;
    if (starts === null && lower.startsWith(q)) starts = id;
    else if (contains === null && lower.includes(q)) contains = id;
  }
  return starts ?? contains;
}

/** "Find step": a search box that selects a step by name and centres the graph on it. */
export function FindStep({ ids, onFind }: { ids: readonly string[]; onFind(id: string): void }) {
  const [query, setQuery] = useState('');
  const [note, setNote] = useState('');
  const inputId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const hit = findStep(ids, query);
    if (hit) {
      setNote(`Showing ${hit}`);
      onFind(hit);
    } else {
      setNote(query.trim() ? `No step matches “${query.trim()}”` : '');
    }
  };
  return (
    <form role="search" className="find-step" onSubmit={submit} aria-label="Find a step in the graph">
      <label htmlFor={inputId} className="sr-only">
        Find step
      </label>
      <input
        id={inputId}
        type="search"
        placeholder="Find step…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" className="btn">
        Find
      </button>
      <span className="muted small" role="status" aria-live="polite">
        {note}
      </span>
    </form>
  );
}
