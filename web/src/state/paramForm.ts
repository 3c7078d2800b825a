/**
 * The trigger form, typed from the pipeline's parameter JSON Schema
 * (`GET api/pipelines/{name}/schema`): one field per parameter, parsed and checked in the
 * browser; a server 422 is mapped back onto the field it names.
 */

import type { Json } from '../api/types';
import { RUN_TAGS_KEY } from './runTags';

export type FieldKind = 'integer' | 'number' | 'boolean' | 'enum' | 'date' | 'datetime' | 'string' | 'json';

export interface ParamField {
  name: string;
  kind: FieldKind;
  label: string;
  description: string | null;
  required: boolean;
  /** empty input means `null` */
  nullable: boolean;
  hasDefault: boolean;
  defaultValue: Json | undefined;
  /** enum choices (any JSON scalars) */
  options: Json[];
  minimum: number | null;
  maximum: number | null;
  /** for json fields: the JSON type the value must have */
  jsonType: 'array' | 'object' | null;
}

type Schema = Record<string, unknown>;

function asSchema(value: unknown): Schema {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Schema) : {};
}

function resolve(node: Schema, root: Schema): Schema {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) target = asSchema(target)[part];
  const { $ref: _ignored, ...rest } = node;
  return { ...asSchema(target), ...rest };
}

/** Drop a `null` alternative (`int | None`) and report that the field is nullable. */
function unwrapNullable(node: Schema, root: Schema): { node: Schema; nullable: boolean } {
  const alts = (node.anyOf ?? node.oneOf) as unknown;
  if (Array.isArray(alts)) {
    const rest = alts.map((a) => resolve(asSchema(a), root)).filter((a) => a.type !== 'null');
    const nullable = rest.length < alts.length;
    if (rest.length === 1) return { node: { ...rest[0], ...withoutAlts(node) }, nullable };
    return { node, nullable };
  }
  if (Array.isArray(node.type)) {
    const types = (node.type as unknown[]).filter((t) => t !== 'null');
    const nullable = types.length < node.type.length;
    return { node: { ...node, type: types.length === 1 ? types[0] : types }, nullable };
  }
  return { node, nullable: node.type === 'null' };
}

function withoutAlts(node: Schema): Schema {
  const { anyOf: _a, oneOf: _o, ...rest } = node;
  return rest;
}

function kindOf(node: Schema): { kind: FieldKind; jsonType: 'array' | 'object' | null } {
  if (Array.isArray(node.enum)) return { kind: 'enum', jsonType: null };
  if ('const' in node) return { kind: 'enum', jsonType: null };
  switch (node.type) {
    case 'integer':
      return { kind: 'integer', jsonType: null };
    case 'number':
      return { kind: 'number', jsonType: null };
    case 'boolean':
      return { kind: 'boolean', jsonType: null };
    case 'string':
      if (node.format === 'date') return { kind: 'date', jsonType: null };
      if (node.format === 'date-time') return { kind: 'datetime', jsonType: null };
      return { kind: 'string', jsonType: null };
    case 'array':
      return { kind: 'json', jsonType: 'array' };
    case 'object':
      return { kind: 'json', jsonType: 'object' };
    default:
      return { kind: 'json', jsonType: null };
  }
}

/** The form's fields, in the schema's property order. */
export function fieldsFromSchema(schema: unknown): ParamField[] {
  const root = asSchema(schema);
  const props = asSchema(root.properties);
  const required = new Set(Array.isArray(root.required) ? (root.required as string[]) : []);
  return Object.entries(props).map(([name, raw]) => {
    const { node, nullable } = unwrapNullable(resolve(asSchema(raw), root), root);
    const { kind, jsonType } = kindOf(node);
    const options = Array.isArray(node.enum) ? (node.enum as Json[]) : 'const' in node ? [node.const as Json] : [];
    return {
      name,
      kind,
      label: typeof node.title === 'string' && node.title ? node.title : name,
      description: typeof node.description === 'string' ? node.description : null,
      required: required.has(name),
      nullable,
      hasDefault: 'default' in node,
      defaultValue: node.default as Json | undefined,
      options,
      minimum: typeof node.minimum === 'number' ? node.minimum : null,
      maximum: typeof node.maximum === 'number' ? node.maximum : null,
      jsonType,
    };
  });
}

/** The text an input starts with: the default, in the input's own format. */
export function initialInput(field: ParamField): string {
  const v = field.defaultValue;
  if (!field.hasDefault || v === undefined || v === null) return '';
  if (field.kind === 'enum') return JSON.stringify(v);
  if (field.kind === 'json') return JSON.stringify(v);
  if (field.kind === 'boolean') return v ? 'true' : 'false';
  if (field.kind === 'datetime' && typeof v === 'string') return v.slice(0, 16);
  return String(v);
}

export type ParsedField = { value: Json } | { omit: true } | { error: string };

/** One field's input text -> its JSON value, or what is wrong with it. */
export function parseField(field: ParamField, text: string): ParsedField {
  const raw = field.kind === 'string' ? text : text.trim();
  if (raw === '' && field.kind !== 'boolean') {
    if (field.nullable) return { value: null };
    if (field.hasDefault) return { omit: true };
    if (field.kind === 'string' && !field.required) return { omit: true };
    return { error: `${field.name} is required.` };
  }
  switch (field.kind) {
    case 'boolean':
      return { value: text === 'true' };
    case 'integer':
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) return { error: `${field.name} must be a number.` };
      if (field.kind === 'integer' && !Number.isInteger(n)) return { error: `${field.name} must be a whole number.` };
      if (field.minimum !== null && n < field.minimum) return { error: `${field.name} must be at least ${field.minimum}.` };
      if (field.maximum !== null && n > field.maximum) return { error: `${field.name} must be at most ${field.maximum}.` };
      return { value: n };
    }
    case 'enum': {
      let v: Json;
      try {
        v = JSON.parse(raw) as Json;
      } catch {
        return { error: `${field.name}: choose one of the options.` };
      }
      return field.options.some((o) => JSON.stringify(o) === JSON.stringify(v))
        ? { value: v }
        : { error: `${field.name}: choose one of the options.` };
    }
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(raw) ? { value: raw } : { error: `${field.name} must be a date (YYYY-MM-DD).` };
    case 'datetime':
      return Number.isNaN(Date.parse(raw)) ? { error: `${field.name} must be a date and time.` } : { value: raw };
    case 'string':
      return { value: text };
    case 'json': {
      let v: Json;
      try {
        v = JSON.parse(raw) as Json;
      } catch {
        return { error: `${field.name} is not valid JSON (strings need double quotes, e.g. "abc").` };
      }
      const isArray = Array.isArray(v);
      const isObject = v !== null && typeof v === 'object' && !isArray;
      if (field.jsonType === 'array' && !isArray) return { error: `${field.name} must be a JSON list, e.g. [1, 2].` };
      if (field.jsonType === 'object' && !isObject) return { error: `${field.name} must be a JSON object, e.g. {"a": 1}.` };
      return { value: v };
    }
  }
}

/** All fields: the params to send, or the error of each bad field. */
export function parseForm(
  fields: readonly ParamField[],
  inputs: Readonly<Record<string, string>>,
): { params: Record<string, Json> } | { errors: Record<string, string> } {
  const params: Record<string, Json> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const r = parseField(f, inputs[f.name] ?? '');
    if ('error' in r) errors[f.name] = r.error;
    else if ('value' in r) params[f.name] = r.value;
  }
  return Object.keys(errors).length > 0 ? { errors } : { params };
}

/**
 * Map a server 422 onto fields: FastAPI's list of `{loc, msg}`, or a message naming the
 * parameter (`'lr'`, `"lr"` or `params.lr`). Unplaced messages go under `''`.
 */
export function fieldErrorsFromServer(detail: unknown, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (field: string, msg: string) => {
    out[field] = out[field] ? `${out[field]} ${msg}` : msg;
  };
  const items = Array.isArray(detail) ? detail : [detail];
  for (const item of items) {
    if (item && typeof item === 'object' && Array.isArray((item as { loc?: unknown }).loc)) {
      const { loc, msg } = item as { loc: unknown[]; msg?: unknown };
      const runTags = loc[0] === 'body' && loc[1] === 'tags';
      const field = runTags ? RUN_TAGS_KEY : loc.map(String).find((p) => names.includes(p));
      add(field ?? '', String(msg ?? 'invalid value'));
      continue;
    }
    const text = typeof item === 'string' ? item : JSON.stringify(item);
    const field = names.find((n) => new RegExp(`['"\`]${escape(n)}['"\`]|params\\.${escape(n)}\\b`).test(text));
    add(field ?? '', text);
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Without a schema (older servers): one field per default, typed by the default's value. */
export function fieldsFromDefaults(defaults: Readonly<Record<string, unknown>>): ParamField[] {
  return Object.entries(defaults).map(([name, v]) => {
    const kind: FieldKind =
      typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : 'json';
    return {
      name,
      kind,
      label: name,
      description: null,
      required: false,
      nullable: v === null,
      hasDefault: true,
      defaultValue: v as Json,
      options: [],
      minimum: null,
      maximum: null,
      jsonType: Array.isArray(v) ? 'array' : v !== null && typeof v === 'object' ? 'object' : null,
    };
  });
}
