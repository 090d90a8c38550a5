import { resolvePretrainConfig } from '../src/config/load.js';
import { Dino } from '../src/methods/dino.js';
import { AdamW } from '../src/engine/adamw.js';
import { emaUpdate } from '../src/engine/ema.js';
const K = Number(process.env.K ?? 4096);
const cfg = resolvePretrainConfig({ method_args: { output_dim: K }, transforms: { global: { size: 96, count: 2 }, local: { size: 48, count: 6 } } }, { data: 'x', out: 'y', batch_size: 32, model: 'vit-tiny/16' });
const m = new Dino({ cfg, datasetSize: 100, session: { providers: ['cpu'], threads: 2 } });
let t0 = performance.now();
await m.init();
console.log('init ms', (performance.now() - t0).toFixed(0), 'params', m.params.size);
const B = 32;
const batch: any = { size: B, epoch: 0, batch: 0, waitMs: 0, views: [...Array(2)].map(() => new Float32Array(B * 3 * 96 * 96).map(() => Math.random())).concat([...Array(6)].map(() => new Float32Array(B * 3 * 48 * 48).map(() => Math.random()))), viewSizes: [96, 96, 48, 48, 48, 48, 48, 48] };
const s: any = { step: 0, totalSteps: 10, lr: 1e-4, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04 };
const mm: any = m;
const wrap = (key: string) => { const sess = mm[key]; const run = sess.run.bind(sess); const times: number[] = []; sess.run = async (...a: any[]) => { const t = performance.now(); const r = await run(...a); times.push(performance.now() - t); return r; }; return times; };
const tt = wrap('teacherSession'), ts = wrap('trainSession');
const opt = new AdamW(m.params, { lr: 1e-4, weightDecay: 0.04 });
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const r = await m.forwardBackward(batch, s);
  const t1 = performance.now();
  opt.step(m.grads.flat);
  const t2 = performance.now();
  m.afterStep(s);
  const t3 = performance.now();
  console.log(`fb ${(t1 - t0).toFixed(0)} (teacher ${tt.at(-1)!.toFixed(0)} student ${ts.at(-1)!.toFixed(0)}) adam ${(t2 - t1).toFixed(0)} after ${(t3 - t2).toFixed(0)} loss ${r.loss.toFixed(4)} load ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
}
console.log('rss MiB', (process.resourceUsage().maxRSS / 1024).toFixed(0));
await m.release();
