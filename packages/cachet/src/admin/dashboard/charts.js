// Trend charts of GET /history, drawn with uPlot (vendor/uplot.js, a classic script that defines the
// global `uPlot` before the modules run). Each chart keeps its uPlot instance on its element
// (`.uplot`), so a test can read the data it draws.

const MB = 1024 * 1024
const TREND_CHARTS = [
  {
    id: 'chart-hit-rate',
    title: 'Hit rate (%)',
    // A fixed 0-100 axis: autoscaled, 49.4 % to 49.8 % would look like a swing.
    yRange: [0, 100],
    series: [
      { label: 'hit rate', stroke: '#14804a', value: (p) => (p.hitRate === null ? null : p.hitRate * 100) },
    ],
  },
  {
    id: 'chart-ops',
    title: 'Operations per second',
    series: [
      { label: 'hit', stroke: '#14804a', value: (p) => p.opsPerSecond.hit },
      { label: 'miss', stroke: '#2f6fdf', value: (p) => p.opsPerSecond.miss },
      { label: 'stale', stroke: '#b25e09', value: (p) => p.opsPerSecond.stale },
      { label: 'error', stroke: '#c0262d', value: (p) => p.opsPerSecond.error },
    ],
  },
  {
    id: 'chart-latency',
    title: 'Latency (ms)',
    series: [
      { label: 'read p50', stroke: '#14804a', value: (p) => p.readMs?.p50 ?? null },
      { label: 'read p99', stroke: '#7ccf9f', value: (p) => p.readMs?.p99 ?? null },
      { label: 'loader p50', stroke: '#2f6fdf', value: (p) => p.loaderMs?.p50 ?? null },
      { label: 'loader p99', stroke: '#9bb9f0', value: (p) => p.loaderMs?.p99 ?? null },
    ],
  },
  {
    id: 'chart-memory',
    title: 'Memory (MB)',
    series: [
      { label: 'L1', stroke: '#6941c6', value: (p) => (p.l1Bytes === null ? null : p.l1Bytes / MB) },
      {
        label: 'Redis',
        stroke: '#c11574',
        value: (p) => (p.redisMemoryBytes === null ? null : p.redisMemoryBytes / MB),
      },
    ],
  },
  {
    id: 'chart-l2',
    title: 'L2 errors per interval · circuit (0 closed, 1 half-open, 2 open)',
    series: [
      { label: 'L2 errors', stroke: '#c0262d', value: (p) => p.l2Errors },
      { label: 'circuit', stroke: '#1d232a', value: (p) => p.circuit },
    ],
  },
]
/** Line styles of the instances after the first, in order: same colour per figure, another dash. */
const DASHES = [undefined, [6, 4], [2, 3], [10, 3, 2, 3]]
const trendCharts = new Map()

function chartOptions(spec, lines, width) {
  return {
    width,
    height: 170,
    scales: { x: { time: true }, ...(spec.yRange ? { y: { range: spec.yRange } } : {}) },
    series: [{}, ...lines],
    axes: [{}, { size: 56 }],
  }
}

/**
 * The lines of one chart: its figures for one instance, or for each of several instances (labelled
 * with the instance, one dash style per instance), with their data aligned on the union of the
 * instances' sample times (uPlot.join; a time one instance has no point at is a gap in its line).
 */
function chartLines(spec, seriesList) {
  const several = seriesList.length > 1
  const lines = []
  const tables = []
  seriesList.forEach((series, index) => {
    for (const s of spec.series) {
      lines.push({
        label: several ? `${s.label} · ${series.instance}` : s.label,
        stroke: s.stroke,
        width: 1.5,
        dash: DASHES[index % DASHES.length],
      })
    }
    tables.push([
      series.points.map((p) => p.at / 1000),
      ...spec.series.map((s) => series.points.map(s.value)),
    ])
  })
  return { lines, data: several ? globalThis.uPlot.join(tables) : tables[0] }
}

/**
 * Draws (or updates) every trend chart inside `container` from GET /history series: one instance's
 * (`[{ instance, points }]`), or several drawn together. A chart is rebuilt when the instances shown change.
 */
export function renderTrends(container, seriesList) {
  const shown = seriesList.map((series) => series.instance).join(',')
  for (const spec of TREND_CHARTS) {
    const { lines, data } = chartLines(spec, seriesList)
    const existing = trendCharts.get(spec.id)
    if (existing?.shown === shown) {
      existing.chart.setData(data)
      continue
    }
    let target = document.getElementById(spec.id)
    if (existing) {
      existing.chart.destroy()
    } else {
      const figure = document.createElement('figure')
      figure.className = 'trend'
      const caption = document.createElement('figcaption')
      caption.textContent = spec.title
      target = document.createElement('div')
      target.id = spec.id
      figure.append(caption, target)
      container.append(figure)
    }
    const width = Math.max(280, target.parentElement.clientWidth - 8)
    const chart = new globalThis.uPlot(chartOptions(spec, lines, width), data, target)
    target.uplot = chart
    trendCharts.set(spec.id, { chart, shown })
  }
}
