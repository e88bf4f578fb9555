// Generates swarm.config.schema.json from the zod schema the loader uses, so completion and
// validation in VS Code accept exactly what the CLI and the extension accept.
// Run: node --import tsx schemas/generate.ts   (test/unit/config/schema-file.test.ts fails when stale)
import fs from 'node:fs';
import path from 'node:path';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { swarmConfigSchema } from '../src/core/config/schema';

type JsonObject = Record<string, unknown>;
// The schema type is too deep for the library's generic signature (TS2589); it is a plain zod 3 schema.
type ZodSchemaArgument = Parameters<typeof zodToJsonSchema>[0];

export const SCHEMA_FILE = path.join(__dirname, 'swarm.config.schema.json');

/** Zod refinements have no JSON Schema form; the one that matters for editing is added by hand. */
function requireModelIdForRemoteProviders(schema: JsonObject): void {
  const executors = (schema.properties as JsonObject).executors as JsonObject;
  const entry = executors.additionalProperties as { anyOf: JsonObject[] };
  const model = entry.anyOf.find((branch) => ((branch.properties as JsonObject).type as JsonObject).const === 'model');
  if (!model) throw new Error('the model executor branch is missing from the generated schema');
  model.if = { properties: { provider: { enum: ['openai', 'anthropic'] } } };
  model.then = { required: ['model'] };
}

export function buildSwarmConfigJsonSchema(): JsonObject {
  const generated = zodToJsonSchema(swarmConfigSchema as unknown as ZodSchemaArgument, { $refStrategy: 'none', target: 'jsonSchema7', removeAdditionalStrategy: 'strict' }) as JsonObject;
  requireModelIdForRemoteProviders(generated);
  return {
    $schema: generated.$schema,
    title: 'Agent Swarm project configuration (swarm.config.json)',
    description: 'Executors, verify command, pool limits, worktrees and rate limits shared by the swarm CLI and the VS Code extension. VS Code settings and CLI flags override it.',
    ...Object.fromEntries(Object.entries(generated).filter(([key]) => key !== '$schema')),
  };
}

export function schemaFileText(): string {
  return `${JSON.stringify(buildSwarmConfigJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, schemaFileText());
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}
