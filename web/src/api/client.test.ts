import { describe, expect, it } from 'vitest';
import html from '../../index.html?raw';
import { apiUrl, basenameFrom, seg, setTokenForTests, sseUrl } from './client';

describe('mounting under a prefix', () => {
  it('derives the router basename from <base href>', () => {
    expect(basenameFrom('http://h/')).toBe('/');
    expect(basenameFrom('http://h/flowyml/')).toBe('/flowyml');
    expect(basenameFrom('http://h/a/b/')).toBe('/a/b');
  });

  it('builds API and SSE URLs relative to the base', async () => {
    const base = 'http://h:8000/flowyml/';
    expect(apiUrl('runs', { pipeline: 'p q', status: '', cursor: null, limit: 5 }, base).toString()).toBe(
      'http://h:8000/flowyml/api/runs?pipeline=p+q&limit=5',
    );
    expect(apiUrl(`runs/${seg('a/b')}`, {}, base).pathname).toBe('/flowyml/api/runs/a%2Fb');
    expect(await sseUrl('events', base)).toBe('http://h:8000/flowyml/api/events');
    // a server without SSE tickets: the token is the only way in
    setTokenForTests('abc');
    const realFetch = globalThis.fetch;
    globalThis.fetch = async () => new Response('{"detail":"Not Found"}', { status: 404 });
    try {
      expect(await sseUrl('events', base)).toBe('http://h:8000/flowyml/api/events?token=abc');
    } finally {
      globalThis.fetch = realFetch;
      setTokenForTests(null);
    }
  });

  it('index.html has exactly one <base href> tag for the server to rewrite, and relative assets', () => {
    expect(html.match(/<base\b/gi)).toHaveLength(1);
    expect(html).toMatch(/<head>[\s\S]*<base href="\/" \/>[\s\S]*<\/head>/);
    expect(html).not.toMatch(/(src|href)="\/(?!")/); // no absolute asset paths
  });
});
