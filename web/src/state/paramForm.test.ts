import { describe, expect, it } from 'vitest';
import { fieldErrorsFromServer, fieldsFromSchema, initialInput, parseForm } from './paramForm';

const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    lr: { type: 'number', default: 0.1 },
    epochs: { type: 'integer', minimum: 1, default: 3 },
    mode: { $ref: '#/$defs/Mode', default: 'fast' },
    shuffle: { type: 'boolean', default: true },
    day: { type: 'string', format: 'date' },
    tags: { type: 'array', items: { type: 'string' }, default: [] },
    note: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null },
  },
  required: ['day'],
  $defs: { Mode: { enum: ['fast', 'slow'] } },
};

describe('trigger form from a JSON Schema', () => {
  const fields = fieldsFromSchema(SCHEMA);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it('gives each parameter a typed field with its default', () => {
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ['lr', 'number'],
      ['epochs', 'integer'],
      ['mode', 'enum'],
      ['shuffle', 'boolean'],
      ['day', 'date'],
      ['tags', 'json'],
      ['note', 'string'],
    ]);
    expect(byName.mode?.options).toEqual(['fast', 'slow']);
    expect(byName.note?.nullable).toBe(true);
    expect(byName.day?.required).toBe(true);
    expect(fields.map(initialInput)).toEqual(['0.1', '3', '"fast"', 'true', '', '[]', '']);
  });

  it('parses good input to typed params', () => {
    const inputs = { lr: '0.5', epochs: '10', mode: '"slow"', shuffle: 'false', day: '2026-12-01', tags: '["a"]', note: '' };
    expect(parseForm(fields, inputs)).toEqual({
      params: { lr: 0.5, epochs: 10, mode: 'slow', shuffle: false, day: '2026-12-01', tags: ['a'], note: null },
    });
  });

  it('names every bad field: a float given "high", a fraction for an int, a missing date', () => {
    const r = parseForm(fields, { lr: 'high', epochs: '2.5', mode: '"fast"', shuffle: 'true', day: '', tags: '{}' });
    expect('errors' in r && r.errors).toEqual({
      lr: 'lr must be a number.',
      epochs: 'epochs must be a whole number.',
      day: 'day is required.',
      tags: 'tags must be a JSON list, e.g. [1, 2].',
    });
    const low = parseForm(fields, { epochs: '0', day: '2026-01-01' });
    expect('errors' in low && low.errors).toEqual({ epochs: 'epochs must be at least 1.' });
  });

  it('leaves empty fields with a default to the server', () => {
    expect(parseForm(fields, { day: '2026-01-01' })).toEqual({ params: { shuffle: false, day: '2026-01-01', note: null } });
  });

  it("places a server 422 on the field it names", () => {
    const names = fields.map((f) => f.name);
    expect(fieldErrorsFromServer([{ loc: ['body', 'params', 'lr'], msg: 'Input should be a valid number' }], names)).toEqual({
      lr: 'Input should be a valid number',
    });
    expect(fieldErrorsFromServer("parameter 'epochs' expects int, got str", names)).toEqual({
      epochs: "parameter 'epochs' expects int, got str",
    });
    expect(fieldErrorsFromServer('something else broke', names)).toEqual({ '': 'something else broke' });
  });
});

describe('trigger form without a schema', () => {
  it('types each field by its default value', async () => {
    const { fieldsFromDefaults } = await import('./paramForm');
    const fields = fieldsFromDefaults({ lr: 0.1, name: 'x', flag: false, tags: ['a'], opt: null });
    expect(fields.map((f) => [f.name, f.kind, f.jsonType])).toEqual([
      ['lr', 'number', null],
      ['name', 'string', null],
      ['flag', 'boolean', null],
      ['tags', 'json', 'array'],
      ['opt', 'json', null],
    ]);
    expect(parseForm(fields, { lr: 'high' })).toEqual({ errors: { lr: 'lr must be a number.' } });
  });
});
