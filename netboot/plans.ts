// Clone plans are checked when the image is built, with the agent's own validator, so a
// node never boots into a plan its agent refuses.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../common/errors.js';
import type { PlanInput } from './build.js';

export type PlanValidator = (text: string) => { readonly ok: true } | { readonly ok: false; readonly message: string };

/** Reads each plan and validates it; the first failure is a UsageError naming the file. */
export async function loadPlans(plans: readonly { readonly name: string; readonly file: string }[], validate: PlanValidator): Promise<PlanInput[]> {
  const out: PlanInput[] = [];
  for (const p of plans) {
    let text: string;
    try {
      text = await readFile(p.file, 'utf8');
    } catch (e) {
      throw new UsageError(`--plan ${p.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const r = validate(text);
    if (!r.ok) throw new UsageError(`--plan ${p.file}: ${r.message}`);
    out.push({ name: p.name, text, source: p.file });
  }
  return out;
}

/** The message of a failed Result, whatever the validator calls it. */
function failureMessage(r: Record<string, unknown>): string {
  for (const k of ['errors', 'detail', 'message', 'error']) {
    const v = r[k];
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
    if (Array.isArray(v)) return v.map(String).join('; ');
  }
  return JSON.stringify(r);
}

/** The agent's parsePlan from the installed rackcast's dist/clone/plan.js. */
export async function agentPlanValidator(pkgRoot: string): Promise<PlanValidator> {
  const path = join(pkgRoot, 'dist', 'clone', 'plan.js');
  let mod: { parsePlan?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { parsePlan?: unknown };
  } catch (e) {
    throw new UsageError(`cannot load the clone agent's plan validator ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof mod.parsePlan !== 'function') throw new UsageError(`${path} has no parsePlan`);
  const parsePlan = mod.parsePlan as (text: string) => Record<string, unknown>;
  return (text) => {
    const r = parsePlan(text);
    return r.ok === true ? { ok: true } : { ok: false, message: failureMessage(r) };
  };
}
