//! Charts as SVG text, drawn on the server so the browser bundle carries no plotting code and a
//! printed certificate shows the same picture as the page.
//!
//! Every colour comes from a CSS class (`style/charts.css`) or `currentColor`, so the dark and
//! the light theme (and paper) restyle a chart without drawing it again; the presentation
//! attributes beside the classes are fallbacks for a page without the stylesheet (a saved
//! certificate). The page's CSP forbids inline `style`, hence attributes, never `style="…"`.
//! Values that are NaN or infinite are left out rather than drawn at an edge.

use std::fmt::Write as _;

use crate::notify::escape;

/// One line of a line chart: `(x, y)` points in x order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis' values read.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Axis {
    /// Plain numbers with a unit (`°C`, `h`, `MB/s`, ``).
    Number { unit: String },
    /// Unix seconds, shown as UTC dates/times.
    Time,
    /// Seconds since the start, shown as `h:mm`.
    Elapsed,
}

/// A horizontal band across the plot (a warning or critical range).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    /// `warn` or `crit`: a CSS class suffix.
    pub level: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
}

/// One bar of a bar chart.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Shown on hover and beside the value (`12 of 14`).
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BarChart {
    pub title: String,
    pub unit: String,
    pub bars: Vec<Bar>,
}

/// The drawing's width in viewBox units; the SVG itself is as wide as its box.
const WIDTH: f64 = 640.0;
const LINE_HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 34.0;
const MARGIN_BOTTOM: f64 = 48.0;
const LEGEND_ROW: f64 = 20.0;
/// Room between the x axis' caption and the legend's first row, so they never overlap.
const LEGEND_GAP: f64 = 8.0;
/// Classes `chart-line-0` … `chart-line-5`, reused in turn.
const PALETTE: [&str; 6] = ["#58a6ff", "#f0a030", "#3fb970", "#c297ff", "#f0524f", "#39c5cf"];
/// Above this many points a line shows no dots; each point keeps an invisible hover target.
const DOTS_UP_TO: usize = 60;
/// Bar labels longer than this are cut (the whole label stays in the bar's `<title>`).
const BAR_LABEL_CHARS: usize = 22;

/// Opens the `<svg>` with its accessible name and the title drawn at the top.
fn open(out: &mut String, kind: &str, height: f64, title: &str) {
    let title = escape(title);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {kind}\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{title}\" \
         font-family=\"system-ui, sans-serif\" font-size=\"12\" fill=\"currentColor\">\
         <title>{title}</title>\
         <text class=\"chart-title\" x=\"{MARGIN_LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"600\">{title}</text>"
    );
}

/// What a chart with nothing to draw says.
fn empty(kind: &str, title: &str) -> String {
    let mut out = String::new();
    open(&mut out, kind, 120.0, title);
    let _ = write!(
        out,
        "<text class=\"chart-empty\" x=\"{}\" y=\"72\" text-anchor=\"middle\" fill-opacity=\"0.7\">No data</text></svg>",
        WIDTH / 2.0
    );
    out
}

/// Rounds for the SVG text: two decimals say more than a screen shows.
fn n(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded == 0.0 { "0".to_owned() } else { format!("{rounded}") }
}

/// Ticks every 1, 2 or 5 × 10ᵏ, about `target` of them, from at or below `min` to at or above
/// `max` (the first and the last tick are the axis' ends).
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() {
        return Vec::new();
    }
    let (min, max) = if min <= max { (min, max) } else { (max, min) };
    let (min, max) = if max - min < f64::EPSILON * max.abs().max(1.0) {
        let pad = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
        (min - pad, max + pad)
    } else {
        (min, max)
    };
    let step = nice_step((max - min) / target.max(1) as f64);
    let first = (min / step).floor();
    let last = (max / step).ceil();
    let count = (last - first) as i64;
    (0..=count).map(|i| clean((first + i as f64) * step, step)).collect()
}

/// The smallest 1, 2 or 5 × 10ᵏ at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() { raw } else { 1.0 };
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A tick without the float noise of `k × step` (`0.30000000000000004`).
fn clean(value: f64, step: f64) -> f64 {
    let decimals = decimals(step) as i32;
    let scale = 10f64.powi(decimals);
    let v = (value * scale).round() / scale;
    if v == 0.0 { 0.0 } else { v }
}

fn decimals(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 { 0 } else { (-step.log10().floor()) as usize }
}

/// A number as a tick label, with as many decimals as the step needs.
fn number_label(value: f64, step: f64) -> String {
    let text = format!("{:.*}", decimals(step), value);
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        "0".to_owned()
    } else {
        text
    }
}

/// Steps for a time axis, in seconds: round minutes, hours that divide a day, whole days.
const TIME_STEPS: [f64; 16] = [
    60.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10_800.0,
    21_600.0,
    43_200.0,
    86_400.0,
    172_800.0,
    604_800.0,
    1_209_600.0,
    2_592_000.0,
    7_776_000.0,
];

/// Ticks on UTC minute, hour or day boundaries inside `[min, max]`, about `target` of them.
/// Week steps are counted from the epoch's Thursday, so they fall on the same weekday.
fn time_ticks(min: f64, max: f64, target: usize) -> (f64, Vec<f64>) {
    let raw = (max - min) / target.max(1) as f64;
    let step = TIME_STEPS.iter().copied().find(|s| *s >= raw).unwrap_or_else(|| {
        // Spans of years: whole multiples of 90 days.
        (raw / 7_776_000.0).ceil() * 7_776_000.0
    });
    let first = (min / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= max + 1e-6 && ticks.len() < 64 {
        ticks.push(t);
        t += step;
    }
    (step, ticks)
}

/// `12-04` for a day tick, `14:30` for a time of day, `12-04 00:00` where a day begins.
fn time_label(secs: f64, step: f64, first: bool) -> String {
    let stamp = crate::format::utc(secs.round() as i64);
    // `YYYY-MM-DDTHH:MM:SSZ`
    let date = stamp.get(5..10).unwrap_or("");
    let time = stamp.get(11..16).unwrap_or("");
    if step >= 86_400.0 {
        date.to_owned()
    } else if first || time == "00:00" {
        format!("{date} {time}")
    } else {
        time.to_owned()
    }
}

/// Steps for elapsed time: minutes, then hours that read on a clock, then days.
const ELAPSED_STEPS: [f64; 14] = [
    60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0, 86_400.0,
    172_800.0, 345_600.0, 604_800.0,
];

fn elapsed_label(secs: f64) -> String {
    let total = secs.round().max(0.0) as u64;
    format!("{}:{:02}", total / 3600, total % 3600 / 60)
}

/// A continuous axis: its ends, its ticks and how each tick reads.
struct Scale {
    min: f64,
    max: f64,
    ticks: Vec<(f64, String)>,
    /// Said beside the axis: the unit, `UTC`, `h:mm`.
    caption: String,
}

impl Scale {
    fn new(axis: &Axis, min: f64, max: f64, target: usize) -> Scale {
        let (min, max) = widen(axis, min, max);
        match axis {
            Axis::Number { unit } => {
                let ticks = nice_ticks(min, max, target);
                let step = if ticks.len() > 1 { ticks[1] - ticks[0] } else { 1.0 };
                let (lo, hi) = (ticks.first().copied(), ticks.last().copied());
                Scale {
                    min: lo.unwrap_or(min),
                    max: hi.unwrap_or(max),
                    ticks: ticks.iter().map(|t| (*t, number_label(*t, step))).collect(),
                    caption: unit.clone(),
                }
            }
            Axis::Time => {
                // A span too short to hold two minute marks (runs seconds apart, as in a fast
                // demo) widens to the whole minutes around it, so the axis still reads a time.
                let minute = TIME_STEPS[0];
                let (min, max) = if max - min < 2.0 * minute {
                    let lo = (min / minute).floor() * minute;
                    (lo, ((max / minute).ceil() * minute).max(lo + minute))
                } else {
                    (min, max)
                };
                let (step, ticks) = time_ticks(min, max, target);
                let ticks = ticks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (*t, time_label(*t, step, i == 0)))
                    .collect();
                let caption = if step >= 86_400.0 { "date (UTC)" } else { "time (UTC)" };
                Scale { min, max, ticks, caption: caption.to_owned() }
            }
            Axis::Elapsed => {
                let raw = (max - min) / target.max(1) as f64;
                let step = ELAPSED_STEPS
                    .iter()
                    .copied()
                    .find(|s| *s >= raw)
                    .unwrap_or_else(|| (raw / 86_400.0).ceil() * 86_400.0);
                let lo = (min / step).floor() * step;
                let hi = (max / step).ceil() * step;
                let count = ((hi - lo) / step).round() as i64;
                let ticks = (0..=count.min(64))
                    .map(|i| {
                        let t = lo + i as f64 * step;
                        (t, elapsed_label(t))
                    })
                    .collect();
                Scale { min: lo, max: hi, ticks, caption: "elapsed (h:mm)".to_owned() }
            }
        }
    }

    /// Where `value` falls between `from` (at `min`) and `to` (at `max`).
    fn at(&self, value: f64, from: f64, to: f64) -> f64 {
        let span = self.max - self.min;
        if span <= 0.0 { (from + to) / 2.0 } else { from + (value - self.min) / span * (to - from) }
    }
}

/// Gives a range of one value some room, as the axis' kind reads best.
fn widen(axis: &Axis, min: f64, max: f64) -> (f64, f64) {
    if max > min {
        return (min, max);
    }
    match axis {
        // Counts that are all zero read from 0 up, not around a zero in the middle.
        Axis::Number { .. } if min == 0.0 => (0.0, 1.0),
        Axis::Number { .. } => {
            let pad = min.abs() * 0.1;
            (min - pad, max + pad)
        }
        Axis::Time => (min - 1800.0, max + 1800.0),
        Axis::Elapsed => (0.0, max.max(min).max(0.0) + 600.0),
    }
}

/// How a value reads in a point's or a bar's `<title>`.
fn value_text(axis: &Axis, value: f64) -> String {
    match axis {
        Axis::Number { unit } => {
            let text = if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{value:.0}")
            } else {
                format!("{value:.1}")
            };
            if unit.is_empty() { text } else { format!("{text} {unit}") }
        }
        Axis::Time => {
            let stamp = crate::format::utc(value.round() as i64);
            format!("{} UTC", stamp.get(0..16).unwrap_or(&stamp).replace('T', " "))
        }
        Axis::Elapsed => elapsed_label(value),
    }
}

fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// A line chart: gridlines, bands behind the lines, axes with their units, a legend when there
/// is more than one series, and a hover title on every point.
pub fn line(chart: &LineChart) -> String {
    draw_line(chart, false)
}

/// A line chart whose value axis starts at zero: for rates (MB/s), where a zoomed axis would
/// make a steady drive's noise look like a fault.
pub fn line_from_zero(chart: &LineChart) -> String {
    draw_line(chart, true)
}

fn draw_line(chart: &LineChart, from_zero: bool) -> String {
    let xs = chart.series.iter().flat_map(|s| finite(&s.points).map(|(x, _)| x));
    let (x_min, x_max) = min_max(xs);
    let ys = chart.series.iter().flat_map(|s| finite(&s.points).map(|(_, y)| y));
    let (y_min, y_max) = min_max(ys);
    let (Some(x_min), Some(x_max), Some(mut y_min), Some(mut y_max)) = (x_min, x_max, y_min, y_max)
    else {
        return empty("chart-line", &chart.title);
    };
    if from_zero {
        y_min = y_min.min(0.0);
    }
    // A band's lower edge is shown, so the reader sees how far the values stay from it; its
    // upper edge may be far off (a fail limit) and is cut at the plot's edge instead.
    for band in chart.bands.iter().filter(|b| b.from.is_finite()) {
        y_min = y_min.min(band.from);
        y_max = y_max.max(band.from);
    }
    // A band starting at the top of the range would be cut to nothing: show some of it.
    if chart.bands.iter().any(|b| b.from == y_max && b.to > b.from) {
        y_max += (y_max - y_min).max(1.0) * 0.08;
    }
    let labelled = chart.series.iter().filter(|s| finite(&s.points).next().is_some()).count();
    let legend = labelled > 1;
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    // Each labelled series' place in the legend: its x and its row, a new row when the next
    // label would run past the plot's right edge (eight surface passes do).
    let mut places: Vec<Option<(f64, usize)>> = Vec::with_capacity(chart.series.len());
    let (mut at, mut row) = (left, 0usize);
    for series in &chart.series {
        if finite(&series.points).next().is_none() {
            places.push(None);
            continue;
        }
        // Roughly 6.5 units a character at 12 px, after an 18-unit swatch.
        let width = 32.0 + series.label.chars().count() as f64 * 6.5;
        if at > left && at + width - 14.0 > right {
            at = left;
            row += 1;
        }
        places.push(Some((at, row)));
        at += width;
    }
    let rows = if legend { row + 1 } else { 0 };
    let height = LINE_HEIGHT + if legend { LEGEND_GAP } else { 0.0 } + rows as f64 * LEGEND_ROW;
    let (top, bottom) = (MARGIN_TOP, LINE_HEIGHT - MARGIN_BOTTOM);
    let x = Scale::new(&chart.x, x_min, x_max, 6);
    let y = Scale::new(&chart.y, y_min, y_max, 5);
    let px = |v: f64| x.at(v, left, right);
    let py = |v: f64| y.at(v, bottom, top);

    let mut out = String::new();
    open(&mut out, "chart-line", height, &chart.title);
    for band in &chart.bands {
        let (Some(from), Some(to)) = (finite_or_edge(band.from, &y), finite_or_edge(band.to, &y))
        else {
            continue;
        };
        let (lo, hi) = (from.min(to).max(y.min), from.max(to).min(y.max));
        if hi <= lo {
            continue;
        }
        let level = if band.level == "crit" { "crit" } else { "warn" };
        let fallback = if level == "crit" { "#f0524f" } else { "#e3b341" };
        let label = escape(&band.label);
        let _ = write!(
            out,
            "<rect class=\"chart-band chart-band-{level}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
             fill=\"{fallback}\" fill-opacity=\"0.14\"><title>{label}</title></rect>\
             <text class=\"chart-band-label chart-band-label-{level}\" x=\"{}\" y=\"{}\" text-anchor=\"end\" \
             font-size=\"10\" fill-opacity=\"0.8\">{label}</text>",
            n(left),
            n(py(hi)),
            n(right - left),
            n(py(lo) - py(hi)),
            n(right - 4.0),
            n(py(hi) + 12.0),
        );
    }
    for (value, label) in &y.ticks {
        let at = n(py(*value));
        let _ = write!(
            out,
            "<line class=\"chart-grid\" x1=\"{}\" x2=\"{}\" y1=\"{at}\" y2=\"{at}\" stroke=\"currentColor\" stroke-opacity=\"0.14\"/>\
             <text class=\"chart-tick\" x=\"{}\" y=\"{at}\" dy=\"4\" text-anchor=\"end\">{}</text>",
            n(left),
            n(right),
            n(left - 6.0),
            escape(label)
        );
    }
    for (value, label) in &x.ticks {
        let at = n(px(*value));
        let _ = write!(
            out,
            "<line class=\"chart-grid\" x1=\"{at}\" x2=\"{at}\" y1=\"{}\" y2=\"{}\" stroke=\"currentColor\" stroke-opacity=\"0.14\"/>\
             <text class=\"chart-tick\" x=\"{at}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n(top),
            n(bottom),
            n(bottom + 16.0),
            escape(label)
        );
    }
    let _ = write!(
        out,
        "<path class=\"chart-axis\" d=\"M{l} {t}V{b}H{r}\" fill=\"none\" stroke=\"currentColor\" stroke-opacity=\"0.6\"/>\
         <text class=\"chart-axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text class=\"chart-axis-label\" x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
        n((left + right) / 2.0),
        n(bottom + 36.0),
        escape(&x.caption),
        n((top + bottom) / 2.0),
        n((top + bottom) / 2.0),
        escape(&y.caption),
        l = n(left),
        t = n(top),
        b = n(bottom),
        r = n(right),
    );
    for (index, series) in chart.series.iter().enumerate() {
        let points: Vec<(f64, f64)> = finite(&series.points).collect();
        if points.is_empty() {
            continue;
        }
        let colour = index % PALETTE.len();
        let fallback = PALETTE[colour];
        let mut d = String::new();
        for (i, (vx, vy)) in points.iter().enumerate() {
            let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { "L" }, n(px(*vx)), n(py(*vy)));
        }
        let label = escape(&series.label);
        let _ = write!(
            out,
            "<g class=\"chart-series\" data-series=\"{label}\" data-points=\"{}\">\
             <path class=\"chart-line-{colour}\" d=\"{d}\" fill=\"none\" stroke=\"{fallback}\" \
             stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>",
            points.len()
        );
        let dots = points.len() <= DOTS_UP_TO;
        for (vx, vy) in &points {
            let _ = write!(
                out,
                "<circle class=\"chart-point chart-point-{colour}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fallback}\"{}>\
                 <title>{label}: {} at {}</title></circle>",
                n(px(*vx)),
                n(py(*vy)),
                if dots { 3 } else { 4 },
                if dots { "" } else { " fill-opacity=\"0\"" },
                escape(&value_text(&chart.y, *vy)),
                escape(&value_text(&chart.x, *vx)),
            );
        }
        out.push_str("</g>");
    }
    if legend {
        out.push_str("<g class=\"chart-legend\">");
        for (index, (series, place)) in chart.series.iter().zip(&places).enumerate() {
            let Some((at, line)) = *place else { continue };
            let row = LINE_HEIGHT + LEGEND_GAP + 4.0 + line as f64 * LEGEND_ROW;
            let colour = index % PALETTE.len();
            let _ = write!(
                out,
                "<rect class=\"chart-swatch chart-swatch-{colour}\" x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                n(at),
                n(row - 4.0),
                PALETTE[colour],
                n(at + 18.0),
                n(row),
                escape(&series.label)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A band edge within the plot: an infinite edge reaches the plot's end.
fn finite_or_edge(value: f64, scale: &Scale) -> Option<f64> {
    if value.is_nan() {
        None
    } else if value == f64::INFINITY {
        Some(scale.max)
    } else if value == f64::NEG_INFINITY {
        Some(scale.min)
    } else {
        Some(value)
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    values.fold((None, None), |(lo, hi), v| {
        (Some(lo.map_or(v, |l: f64| l.min(v))), Some(hi.map_or(v, |h: f64| h.max(v))))
    })
}

/// A label cut to `max` characters, with an ellipsis when it was longer.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A horizontal bar chart (long labels such as drive models stay readable on a phone): the
/// value and its note at each bar's end, a hover title on every bar.
pub fn bars(chart: &BarChart) -> String {
    let bars: Vec<&Bar> = chart.bars.iter().filter(|b| b.value.is_finite()).collect();
    if bars.is_empty() {
        return empty("chart-bars", &chart.title);
    }
    const ROW: f64 = 26.0;
    const LABEL_WIDTH: f64 = 172.0;
    // Room at the right for the value and its note.
    const VALUE_WIDTH: f64 = 130.0;
    let top = MARGIN_TOP + 18.0;
    let height = top + ROW * bars.len() as f64 + 34.0;
    let (left, right) = (LABEL_WIDTH + 8.0, WIDTH - VALUE_WIDTH);
    let lo = bars.iter().map(|b| b.value).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    // Bars grow from zero: with every value zero the axis is 0 to 1, not centred on zero.
    let hi = if lo == 0.0 && hi == 0.0 { 1.0 } else { hi };
    let unit = Axis::Number { unit: chart.unit.clone() };
    let scale = Scale::new(&unit, lo, hi, 5);
    let px = |v: f64| scale.at(v, left, right);
    let bottom = top + ROW * bars.len() as f64;

    let mut out = String::new();
    open(&mut out, "chart-bars", height, &chart.title);
    for (value, label) in &scale.ticks {
        let at = n(px(*value));
        let _ = write!(
            out,
            "<line class=\"chart-grid\" x1=\"{at}\" x2=\"{at}\" y1=\"{}\" y2=\"{}\" stroke=\"currentColor\" stroke-opacity=\"0.14\"/>\
             <text class=\"chart-tick\" x=\"{at}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n(top - 4.0),
            n(bottom),
            n(top - 8.0),
            escape(label)
        );
    }
    let zero = px(0.0);
    for (index, bar) in bars.iter().enumerate() {
        let y = top + ROW * index as f64;
        let end = px(bar.value);
        let (x0, x1) = (zero.min(end), zero.max(end));
        let shown = escape(&value_text(&unit, bar.value));
        let note = escape(&bar.note);
        let label = escape(&bar.label);
        let hover = if bar.note.is_empty() {
            format!("{label}: {shown}")
        } else {
            format!("{label}: {shown} ({note})")
        };
        let _ = write!(
            out,
            "<g class=\"chart-row\" data-label=\"{label}\" data-value=\"{}\">\
             <text class=\"chart-bar-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>\
             <rect class=\"chart-bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\" fill=\"{}\"><title>{hover}</title></rect>\
             <text class=\"chart-bar-value\" x=\"{}\" y=\"{}\">{shown}{}</text></g>",
            n(bar.value),
            n(LABEL_WIDTH),
            n(y + ROW / 2.0 + 4.0),
            escape(&shorten(&bar.label, BAR_LABEL_CHARS)),
            n(x0),
            n(y + 4.0),
            // A zero still shows as a sliver, so the row does not read as missing.
            n((x1 - x0).max(1.0)),
            n(ROW - 8.0),
            PALETTE[0],
            n(x1 + 6.0),
            n(y + ROW / 2.0 + 4.0),
            if bar.note.is_empty() { String::new() } else { format!(" · {note}") },
        );
    }
    let _ = write!(
        out,
        "<path class=\"chart-axis\" d=\"M{z} {t}V{b}\" fill=\"none\" stroke=\"currentColor\" stroke-opacity=\"0.6\"/>",
        z = n(zero),
        t = n(top - 4.0),
        b = n(bottom),
    );
    if !chart.unit.is_empty() {
        let _ = write!(
            out,
            "<text class=\"chart-axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n((left + right) / 2.0),
            n(bottom + 22.0),
            escape(&chart.unit)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>, bands: Vec<Band>) -> LineChart {
        LineChart {
            title: "Temperature".into(),
            x: Axis::Elapsed,
            y: Axis::Number { unit: "°C".into() },
            series,
            bands,
        }
    }

    fn series(label: &str, points: &[(f64, f64)]) -> Series {
        Series { label: label.into(), points: points.to_vec() }
    }

    /// The `d` of each series' path, in order.
    fn paths(svg: &str) -> Vec<String> {
        svg.split("<path class=\"chart-line-")
            .skip(1)
            .map(|rest| {
                let start = rest.find("d=\"").expect("a path has a d") + 3;
                let end = rest[start..].find('"').expect("d is closed") + start;
                rest[start..end].to_owned()
            })
            .collect()
    }

    fn vertices(d: &str) -> usize {
        d.chars().filter(|c| *c == 'M' || *c == 'L').count()
    }

    fn is_one_two_five(step: f64) -> bool {
        let magnitude = 10f64.powf(step.log10().floor());
        let fraction = (step / magnitude * 1000.0).round() / 1000.0;
        [1.0, 2.0, 5.0, 10.0].contains(&fraction)
    }

    #[test]
    fn n_points_draw_a_path_with_n_vertices_and_a_title_each() {
        let points: Vec<(f64, f64)> =
            (0..7).map(|i| (f64::from(i) * 600.0, 30.0 + f64::from(i))).collect();
        let svg = line(&chart(vec![series("Drive", &points)], vec![]));
        let d = paths(&svg);
        assert_eq!(d.len(), 1);
        assert_eq!(vertices(&d[0]), 7);
        assert_eq!(svg.matches("<circle").count(), 7);
        assert!(svg.contains("<title>Drive: 36 °C at 1:00</title>"), "{svg}");
        assert!(svg.contains("data-points=\"7\""));
    }

    #[test]
    fn the_svg_scales_to_its_box_and_names_itself() {
        let svg = line(&chart(vec![series("Drive", &[(0.0, 1.0), (60.0, 2.0)])], vec![]));
        assert!(svg.starts_with("<svg "));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("viewBox=\"0 0 640 "));
        assert!(svg.contains("width=\"100%\""));
        assert!(svg.contains("role=\"img\" aria-label=\"Temperature\""));
        assert!(!svg.contains("style="), "the CSP forbids inline styles");
        assert!(svg.contains(">°C</text>"), "the y axis names its unit");
    }

    #[test]
    fn bands_are_drawn_before_the_lines() {
        let band = Band { from: 50.0, to: 55.0, level: "warn".into(), label: "warning".into() };
        let crit = Band { from: 55.0, to: 60.0, level: "crit".into(), label: "critical".into() };
        let svg =
            line(&chart(vec![series("Drive", &[(0.0, 35.0), (3600.0, 40.0)])], vec![band, crit]));
        let warn_at = svg.find("chart-band-warn").expect("the warning band");
        let crit_at = svg.find("chart-band-crit").expect("the critical band");
        let line_at = svg.find("<path class=\"chart-line-0\"").expect("the line");
        assert!(warn_at < line_at && crit_at < line_at);
        // The band's lower edge is on the plot, so the axis reaches at least 50.
        assert!(svg.contains(">50</text>"), "{svg}");
    }

    #[test]
    fn ticks_are_one_two_five_steps_covering_the_range() {
        for (min, max) in
            [(0.0, 1.0), (3.2, 47.9), (-12.0, 3.0), (0.001, 0.0093), (1e6, 7.3e6), (17.0, 17.5)]
        {
            let ticks = nice_ticks(min, max, 5);
            assert!(ticks.len() >= 2, "{min}..{max}: {ticks:?}");
            assert!(
                ticks[0] <= min && *ticks.last().expect("ticks") >= max,
                "{min}..{max}: {ticks:?}"
            );
            let step = ticks[1] - ticks[0];
            assert!(is_one_two_five(step), "{min}..{max}: step {step}");
            assert!(ticks.len() <= 12, "{min}..{max}: {ticks:?}");
            for pair in ticks.windows(2) {
                assert!(((pair[1] - pair[0]) - step).abs() < step * 1e-6, "{ticks:?}");
            }
        }
        assert_eq!(nice_ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.0, 0.3, 3), vec![0.0, 0.1, 0.2, 0.3]);
    }

    #[test]
    fn equal_min_and_max_still_give_an_axis() {
        let ticks = nice_ticks(40.0, 40.0, 5);
        assert!(ticks[0] < 40.0 && *ticks.last().expect("ticks") > 40.0, "{ticks:?}");
        let ticks = nice_ticks(0.0, 0.0, 5);
        assert!(ticks[0] < 0.0 && *ticks.last().expect("ticks") > 0.0, "{ticks:?}");
        let svg = line(&chart(vec![series("Drive", &[(0.0, 40.0), (600.0, 40.0)])], vec![]));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(vertices(&paths(&svg)[0]), 2);
    }

    #[test]
    fn a_single_point_shows_as_a_dot() {
        let svg = line(&chart(vec![series("Drive", &[(120.0, 38.0)])], vec![]));
        assert_eq!(vertices(&paths(&svg)[0]), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn nan_and_infinite_points_are_left_out() {
        let points = [(0.0, 30.0), (60.0, f64::NAN), (f64::INFINITY, 31.0), (120.0, 32.0)];
        let svg = line(&chart(vec![series("Drive", &points)], vec![]));
        assert_eq!(vertices(&paths(&svg)[0]), 2);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn no_data_says_so() {
        for svg in [
            line(&chart(vec![], vec![])),
            line(&chart(vec![series("Drive", &[(f64::NAN, 1.0)])], vec![])),
            bars(&BarChart { title: "Empty".into(), unit: String::new(), bars: vec![] }),
        ] {
            assert!(svg.contains("No data"), "{svg}");
            assert!(svg.contains("role=\"img\""));
            assert!(svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn a_legend_shows_only_for_more_than_one_series() {
        let one = line(&chart(vec![series("A", &[(0.0, 1.0), (60.0, 2.0)])], vec![]));
        assert!(!one.contains("chart-legend"));
        let two = line(&chart(
            vec![series("A", &[(0.0, 1.0), (60.0, 2.0)]), series("B", &[(0.0, 2.0), (60.0, 3.0)])],
            vec![],
        ));
        assert!(two.contains("chart-legend"));
        assert_eq!(paths(&two).len(), 2);
        assert!(two.contains("chart-line-1"));
    }

    #[test]
    fn a_long_legend_wraps_inside_the_drawing() {
        let labels: Vec<String> =
            (1..=8).map(|i| format!("{i}. read and compare pattern 0x{i:02x}")).collect();
        let many: Vec<Series> =
            labels.iter().map(|l| series(l, &[(0.0, 200.0), (100.0, 190.0)])).collect();
        let svg = line(&chart(many, vec![]));
        let legend = &svg[svg.find("chart-legend").expect("a legend")..];
        let mut rows = std::collections::BTreeSet::new();
        for text in legend.split("<text x=\"").skip(1) {
            let x: f64 = text.split('"').next().and_then(|v| v.parse().ok()).expect("an x");
            let y = text.split("y=\"").nth(1).and_then(|v| v.split('"').next()).expect("a y");
            let label = text.split('>').nth(1).and_then(|v| v.split('<').next()).expect("text");
            assert!(x + label.chars().count() as f64 * 6.5 <= WIDTH, "{label} runs off at {x}");
            rows.insert(y.to_owned());
        }
        assert!(rows.len() > 1, "eight long labels take more than one row");
        // The legend starts a whole line below the x axis' caption.
        let caption_y: f64 = svg
            .split("class=\"chart-axis-label\" x=\"")
            .nth(1)
            .and_then(|t| t.split("y=\"").nth(1))
            .and_then(|t| t.split('"').next())
            .and_then(|y| y.parse().ok())
            .expect("the x caption's y");
        let first_row: f64 = rows.iter().filter_map(|y| y.parse().ok()).fold(f64::MAX, f64::min);
        assert!(first_row >= caption_y + 16.0, "legend at {first_row}, caption at {caption_y}");
        let height = LINE_HEIGHT + LEGEND_GAP + rows.len() as f64 * LEGEND_ROW;
        assert!(svg.contains(&format!("viewBox=\"0 0 640 {height}\"")), "the drawing grows: {svg}");
    }

    #[test]
    fn points_seconds_apart_still_get_time_ticks() {
        // 23:41:11 and 23:41:27 of one day.
        let at = |s: f64| 1_796_773_260.0 + s;
        let svg = line(&LineChart {
            title: "hours".into(),
            x: Axis::Time,
            y: Axis::Number { unit: "h".into() },
            series: vec![series("a", &[(at(11.0), 188.0), (at(27.0), 357.0)])],
            bands: vec![],
        });
        let x_ticks: Vec<&str> = svg
            .split("<text class=\"chart-tick\" x=\"")
            .skip(1)
            .filter(|t| t.contains("text-anchor=\"middle\""))
            .filter_map(|t| t.split('>').nth(1)?.split('<').next())
            .collect();
        assert!(x_ticks.len() >= 2, "minute marks around the points: {x_ticks:?}");
    }

    #[test]
    fn text_is_escaped() {
        let svg = line(&LineChart {
            title: "<script>alert(1)</script> & \"more\"".into(),
            x: Axis::Number { unit: "<u>".into() },
            y: Axis::Number { unit: String::new() },
            series: vec![series("a<b", &[(0.0, 1.0), (1.0, 2.0)])],
            bands: vec![Band { from: 1.5, to: 3.0, level: "x\"y".into(), label: "<b>".into() }],
        });
        assert!(!svg.contains("<script>") && !svg.contains("<u>") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;"));
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("chart-band-warn"), "an unknown level falls back to warn");
        let bar = bars(&BarChart {
            title: "T".into(),
            unit: String::new(),
            bars: vec![Bar { label: "<i>".into(), value: 1.0, note: "'n'".into() }],
        });
        assert!(!bar.contains("<i>") && bar.contains("&lt;i&gt;") && bar.contains("&#39;n&#39;"));
    }

    #[test]
    fn time_ticks_fall_on_hour_and_day_boundaries() {
        // 2026-12-04T03:17:00Z to 13:50: hour ticks on the hour.
        let start = 1_796_354_220.0;
        let scale = Scale::new(&Axis::Time, start, start + 38_000.0, 6);
        assert!(!scale.ticks.is_empty());
        for (t, label) in &scale.ticks {
            assert_eq!(t.rem_euclid(3600.0), 0.0, "{label}");
            assert!(*t >= start && *t <= start + 38_000.0);
        }
        assert_eq!(scale.ticks[0].1, "12-04 04:00");
        assert_eq!(scale.ticks[1].1, "06:00");
        // Ninety days: ticks at midnight UTC, labelled by date.
        let days = Scale::new(&Axis::Time, 1_790_000_000.0, 1_790_000_000.0 + 90.0 * 86_400.0, 6);
        for (t, label) in &days.ticks {
            assert_eq!(t.rem_euclid(86_400.0), 0.0, "{label}");
            assert_eq!(label.len(), 5, "{label}");
        }
        assert_eq!(days.caption, "date (UTC)");
    }

    #[test]
    fn elapsed_ticks_read_as_hours_and_minutes() {
        let scale = Scale::new(&Axis::Elapsed, 0.0, 5.0 * 3600.0, 5);
        let labels: Vec<&str> = scale.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0:00", "1:00", "2:00", "3:00", "4:00", "5:00"]);
    }

    #[test]
    fn bars_that_are_all_zero_draw_an_axis_from_zero() {
        let svg = bars(&BarChart {
            title: "Durations".into(),
            unit: "h".into(),
            bars: vec![Bar { label: "8 TB".into(), value: 0.0, note: String::new() }],
        });
        assert!(svg.contains("data-value=\"0\""), "{svg}");
        assert!(!svg.contains(">-"), "a negative tick: {svg}");
    }

    #[test]
    fn bars_carry_their_values_notes_and_titles() {
        let svg = bars(&BarChart {
            title: "Pass rate".into(),
            unit: "%".into(),
            bars: vec![
                Bar { label: "Seagate".into(), value: 75.0, note: "3 of 4".into() },
                Bar {
                    label: "A very long drive model name indeed".into(),
                    value: 0.0,
                    note: String::new(),
                },
                Bar { label: "Broken".into(), value: f64::NAN, note: String::new() },
            ],
        });
        assert_eq!(svg.matches("<rect class=\"chart-bar\"").count(), 2, "NaN is left out");
        assert!(svg.contains("data-value=\"75\""));
        assert!(svg.contains("<title>Seagate: 75 % (3 of 4)</title>"), "{svg}");
        assert!(svg.contains("A very long drive mod…"), "{svg}");
        assert!(svg.contains("data-label=\"A very long drive model name indeed\""));
        assert!(svg.contains(">80</text>"), "the axis reaches past the longest bar: {svg}");
    }
}
