// Clone plans are checked when the image is built, with the agent's own validator
// (clone/plan.ts), so a node never boots into a plan its agent refuses.

import { readFile } from 'node:fs/promises';
import { parsePlan } from '../clone/plan.js';
import { UsageError } from '../common/errors.js';
import type { PlanInput } from './build.js';

/** Reads each plan and validates it; the first refused plan is a UsageError naming the file and every error. */
export async function loadPlans(plans: readonly { readonly name: string; readonly file: string }[]): Promise<PlanInput[]> {
  const out: PlanInput[] = [];
  for (const p of plans) {
    let text: string;
    try {
      text = await readFile(p.file, 'utf8');
    } catch (e) {
      throw new UsageError(`--plan ${p.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const r = parsePlan(text);
    if (!r.ok) throw new UsageError(`--plan ${p.file}: ${r.errors.length} error(s): ${r.errors.join('; ')}`);
    out.push({ name: p.name, text, source: p.file });
  }
  return out;
}
