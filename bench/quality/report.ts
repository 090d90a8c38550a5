// bench/quality's results as a markdown table (written between the table markers of docs/quality.md) and an
// accuracy-vs-steps plot (an SVG drawn here, rendered to PNG with sharp).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Results, RunResult } from '../quality.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2'];
const pct = (x: number | undefined) => (x === undefined ? '' : (100 * x).toFixed(2));
const num = (x: number | undefined, d = 1) => (x === undefined ? '' : x.toFixed(d));

function describe(r: RunResult): string {
  const args = Object.entries(r.modelArgs).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${r.name} (${r.method}): ${r.model}${args ? ` (${args})` : ''}, batch ${r.batchSize}`;
}

/** Which runs a report shows, along which axis, and where its table goes. */
export interface ReportOptions {
  /** run names (default: every run) */
  runs?: string[];
  /** the x axis: optimizer steps (default) or CPU minutes of training */
  x?: 'steps' | 'cpu';
  /** a run whose last point is drawn as a horizontal line (e.g. the teacher of a distillation) */
  reference?: string;
  /** the table goes between <!-- quality-<marker>:start --> and <!-- quality-<marker>:end --> (default 'table') */
  marker?: string;
}

/** `res` with only the runs the options name, in that order. */
function selectRuns(res: Results, names?: string[]): Results {
  if (!names) return res;
  const runs: Results['runs'] = {};
  for (const n of names) {
    if (!res.runs[n]) throw new Error(`no results for run '${n}' (runs: ${Object.keys(res.runs).join(', ')})`);
    runs[n] = res.runs[n];
  }
  return { ...res, runs };
}

export function markdownTable(res: Results): string {
  const lines = [
    '| run | step | kNN top-1 % | kNN top-5 % | train loss | backbone drift | wall min | CPU min |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of Object.values(res.runs)) {
    for (const p of r.points) {
      const what = p.step === 0 ? `${describe(r)}, random init` : describe(r);
      lines.push(`| ${what} | ${p.step} | ${pct(p.knnTop1)} | ${pct(p.knnTop5)} | ${num(p.loss, 4)} | ${num(p.drift, 4)} | ${num(p.wallMin)} | ${num(p.cpuMin)} |`);
    }
  }
  if (res.rawPixels) lines.push(`| raw pixels (28 px, 784 values) | – | ${pct(res.rawPixels.top1)} | ${pct(res.rawPixels.top5)} | | | | |`);
  return lines.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function plotSvg(res: Results, o: { x?: 'steps' | 'cpu'; reference?: RunResult } = {}): string {
  const W = 1000, H = 600, L = 70, R = 340, T = 50, B = 60;
  const runs = Object.values(res.runs);
  const cpu = o.x === 'cpu';
  const at = (p: RunResult['points'][number]) => (cpu ? (p.cpuMin ?? 0) : p.step);
  const maxStep = Math.max(1, ...runs.flatMap((r) => r.points.map(at)));
  const refAcc = o.reference?.points[o.reference.points.length - 1]?.knnTop1;
  const accs = runs.flatMap((r) => r.points.map((p) => p.knnTop1)).concat(res.rawPixels ? [res.rawPixels.top1] : [], refAcc !== undefined ? [refAcc] : []);
  const lo = Math.max(0, Math.floor((Math.min(...accs) - 0.03) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...accs) + 0.02) * 20) / 20);
  const x = (s: number) => L + ((W - L - R) * s) / maxStep;
  const y = (a: number) => T + ((H - T - B) * (hi - a)) / (hi - lo);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="28" font-size="16" font-weight="bold">kNN accuracy on Fashion-MNIST test (k=20, cosine, T=0.07) vs ${cpu ? 'CPU minutes of training' : 'pretraining steps'}</text>`,
  ];
  for (let a = lo; a <= hi + 1e-9; a += 0.05) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(a)}" y2="${y(a)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 8}" y="${y(a) + 4}" text-anchor="end">${Math.round(a * 100)}%</text>`);
  }
  const tick = cpu ? (maxStep <= 10 ? 1 : maxStep <= 30 ? 5 : 10) : maxStep <= 500 ? 50 : maxStep <= 1000 ? 100 : maxStep <= 2500 ? 250 : 500;
  for (let s = 0; s <= maxStep + 1e-9; s += tick) {
    out.push(`<line x1="${x(s)}" x2="${x(s)}" y1="${T}" y2="${H - B}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(s)}" y="${H - B + 18}" text-anchor="middle">${s}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">${cpu ? 'CPU minutes (user + system) of training' : 'optimizer steps'}</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">kNN top-1 accuracy</text>`);
  let ly = T + 10;
  const legend = (color: string, label: string, dashed: boolean) => {
    out.push(`<line x1="${W - R + 15}" x2="${W - R + 45}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.5"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - R + 52}" y="${ly + 4}">${esc(label)}</text>`);
    ly += 22;
  };
  const modelOf = (r: RunResult) => {
    const args = Object.entries(r.modelArgs).map(([k, v]) => `${k} ${v}`).join(', ');
    return `${r.model}${args ? ` (${args})` : ''}`;
  };
  // runs of one backbone name it once; runs from the same init (same step-0 accuracy) share one dashed line
  const oneModel = runs.length > 1 && runs.every((r) => modelOf(r) === modelOf(runs[0]));
  if (oneModel) {
    out.push(`<text x="${W - R + 15}" y="${ly + 4}">all runs: ${esc(modelOf(runs[0]))}</text>`);
    ly += 22;
  }
  const drawnBases = new Set<number>();
  runs.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = r.points.map((p) => `${x(at(p)).toFixed(1)},${y(p.knnTop1).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2.5"/>`);
    for (const p of r.points) out.push(`<circle cx="${x(at(p))}" cy="${y(p.knnTop1)}" r="3.5" fill="${c}"/>`);
    legend(c, oneModel ? `${r.name}, batch ${r.batchSize}` : `${r.name}: ${modelOf(r)}, batch ${r.batchSize}`, false);
  });
  runs.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    const base = r.points.find((p) => p.step === 0);
    if (!base || drawnBases.has(base.knnTop1)) return;
    drawnBases.add(base.knnTop1);
    const shared = runs.filter((o) => o.points.find((p) => p.step === 0)?.knnTop1 === base.knnTop1).length > 1;
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(base.knnTop1)}" y2="${y(base.knnTop1)}" stroke="${c}" stroke-width="1.2" stroke-dasharray="6 4" opacity="0.7"/>`);
    legend(c, shared ? 'random init (step 0)' : `${r.name}: random init (step 0)`, true);
  });
  if (o.reference && refAcc !== undefined) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(refAcc)}" y2="${y(refAcc)}" stroke="#000" stroke-width="1.8"/>`);
    legend('#000', `${o.reference.name} (reference, step ${o.reference.points[o.reference.points.length - 1].step})`, false);
  }
  if (res.rawPixels) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(res.rawPixels.top1)}" y2="${y(res.rawPixels.top1)}" stroke="#555" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<line x1="${W - R + 15}" x2="${W - R + 45}" y1="${ly}" y2="${ly}" stroke="#555" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${W - R + 52}" y="${ly + 4}">raw pixels</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

export async function writeReport(all: Results, pngPath: string, o: ReportOptions = {}, mdPath = 'docs/quality.md'): Promise<void> {
  const res = selectRuns(all, o.runs);
  const marker = o.marker ?? 'table';
  const svg = plotSvg(res, { x: o.x, reference: o.reference ? selectRuns(all, [o.reference]).runs[o.reference] : undefined });
  writeFileSync(`bench/out/quality-${marker}.svg`, svg);
  await sharp(Buffer.from(svg)).png().toFile(pngPath);
  const table = markdownTable(o.reference ? selectRuns(all, [o.reference, ...Object.keys(res.runs)]) : res);
  writeFileSync(`bench/out/quality-${marker}.md`, table + '\n');
  if (existsSync(mdPath)) {
    const md = readFileSync(mdPath, 'utf8');
    const START = `<!-- quality-${marker}:start -->`, END = `<!-- quality-${marker}:end -->`;
    const a = md.indexOf(START), b = md.indexOf(END);
    if (a >= 0 && b > a) writeFileSync(mdPath, `${md.slice(0, a + START.length)}\n${table}\n${md.slice(b)}`);
  }
  console.log(table);
}
