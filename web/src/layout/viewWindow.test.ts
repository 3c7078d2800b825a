import { describe, expect, it } from 'vitest';
import { boundsOf, idsInWindow, visibleRect, windowFor } from './viewWindow';

const NODE = { width: 100, height: 50 };

describe('windowing a big DAG', () => {
  it('turns a viewport into the visible part of the graph', () => {
    expect(visibleRect({ x: -200, y: -100, zoom: 2 }, { width: 800, height: 400 })).toEqual({
      x: 100,
      y: 50,
      width: 400,
      height: 200,
    });
  });

  it('keeps the same window for small pans, and moves it past a grid line', () => {
    const a = windowFor({ x: 10, y: 10, width: 400, height: 200 });
    const b = windowFor({ x: 60, y: 30, width: 400, height: 200 });
    const c = windowFor({ x: 410, y: 30, width: 400, height: 200 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a).toEqual({ x: -400, y: -200, width: 1600, height: 800 });
  });

  it('takes the nodes in the window and the far ends of their edges', () => {
    const positions = new Map([
      ['a', { x: 0, y: 0 }],
      ['b', { x: 300, y: 0 }],
      ['far', { x: 5000, y: 0 }],
      ['other', { x: 9000, y: 0 }],
    ]);
    const edges = [
      { source: 'a', target: 'far', names: [] },
      { source: 'far', target: 'other', names: [] },
    ];
    const ids = idsInWindow(positions, edges, { x: -50, y: -50, width: 500, height: 200 }, NODE);
    expect([...ids].sort()).toEqual(['a', 'b', 'far']);
    expect(boundsOf(positions, ['a', 'b'], NODE)).toEqual({ x: 0, y: 0, width: 400, height: 50 });
    expect(boundsOf(positions, ['nope'], NODE)).toBeNull();
  });
});
