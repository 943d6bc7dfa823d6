// The lint against double casts (docs/console.md, "Types"): the console reads the api through
// generated types (src/api/schema.d.ts from docs/openapi.json, api/protocol/ts from kefu-protocol),
// and `x as unknown as T` (or through `any`) would silence exactly the mismatch they are there to
// catch. Every source file is parsed with TypeScript, so comments and strings never count.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SOURCES = import.meta.glob<string>(['/src/**/*.ts', '/src/**/*.tsx', '!/src/**/*.d.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
});

const isAssertion = (node: ts.Node): node is ts.AsExpression | ts.TypeAssertion =>
  ts.isAsExpression(node) || ts.isTypeAssertionExpression(node);

/** Each assertion of `source` to a type from an assertion to `unknown` or `any`, as `file:line: text`. */
export function doubleCasts(file: string, source: string): string[] {
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (isAssertion(node)) {
      let inner: ts.Expression = node.expression;
      while (ts.isParenthesizedExpression(inner)) inner = inner.expression;
      if (isAssertion(inner) && (inner.type.kind === ts.SyntaxKind.UnknownKeyword || inner.type.kind === ts.SyntaxKind.AnyKeyword)) {
        const { line } = parsed.getLineAndCharacterOfPosition(node.getStart(parsed));
        found.push(`${file}:${line + 1}: ${node.getText(parsed)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return found;
}

describe('type assertions', () => {
  it('never go through `unknown` or `any`: use the generated types, or narrow them', () => {
    const found = Object.entries(SOURCES).flatMap(([file, source]) => doubleCasts(file, source));
    expect(found, `double casts:\n${found.join('\n')}`).toEqual([]);
  });

  it('are found however they are written, and only in code', () => {
    const source = [
      'const a = b as unknown as C;',
      'const d = (e as any) as F;',
      'const g = <H>(<unknown>i);',
      'const j = k as L; // as unknown as M',
      "const n = 'o as unknown as P';",
    ].join('\n');
    expect(doubleCasts('x.ts', source).map((f) => f.split(':')[1])).toEqual(['1', '2', '3']);
  });
});
