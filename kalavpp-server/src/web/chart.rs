//! One small bar chart, rendered on the server as inline SVG, shared by the artist studio and the
//! admin panel. No script: the chart is a picture with a title, a text alternative (`<desc>`,
//! named by `aria-labelledby`) and a `<title>` per bar for pointer users; pages that want the
//! figures as text put [`BarChart::rows`] in a table beside it.

use std::fmt::Write as _;

/// How the values of a chart are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// Whole numbers (orders, accounts).
    Count,
    /// Cents of the installation's currency (the code, e.g. `USD`).
    Money(String),
}

impl Unit {
    /// A value in full, e.g. `1,234.50 USD` or `17`.
    pub fn full(&self, value: i64) -> String {
        match self {
            Self::Count => group(value),
            Self::Money(currency) => {
                let sign = if value < 0 { "-" } else { "" };
                let abs = value.unsigned_abs();
                format!("{sign}{}.{:02} {currency}", group_u(abs / 100), abs % 100)
            }
        }
    }

    /// A value for an axis tick: money in whole major units.
    fn tick(&self, value: i64) -> String {
        match self {
            Self::Count => group(value),
            Self::Money(currency) => format!("{} {currency}", group(value / 100)),
        }
    }
}

fn group_u(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn group(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}", group_u(value.unsigned_abs()))
}

/// A bar chart of labelled values (oldest first for time series).
#[derive(Debug, Clone)]
pub struct BarChart {
    /// Element id prefix, unique on the page (`[a-z0-9-]`).
    pub id: &'static str,
    /// Shown above the bars and read first by screen readers.
    pub title: String,
    /// How values are written.
    pub unit: Unit,
    /// The bars: label (e.g. `2026-12-01`) and value.
    pub points: Vec<(String, i64)>,
}

const WIDTH: i64 = 640;
const HEIGHT: i64 = 240;
const LEFT: i64 = 84;
const RIGHT: i64 = 12;
const TOP: i64 = 34;
const BOTTOM: i64 = 30;

/// The smallest "nice" number (1, 2 or 5 × 10ⁿ) at least `value`.
fn nice_ceiling(value: i64) -> i64 {
    if value <= 0 {
        return 1;
    }
    let mut step = 1i64;
    loop {
        for factor in [1, 2, 5] {
            if let Some(candidate) = step.checked_mul(factor)
                && candidate >= value
            {
                return candidate;
            }
        }
        match step.checked_mul(10) {
            Some(next) => step = next,
            None => return i64::MAX,
        }
    }
}

/// The top of the value axis: four equal "nice" steps reaching at least `max` (money in whole
/// major units).
fn axis_ceiling(max: i64, unit: &Unit) -> i64 {
    let quarter = |v: i64| v.saturating_add(3) / 4;
    match unit {
        Unit::Count => nice_ceiling(quarter(max.max(1))).saturating_mul(4),
        Unit::Money(_) => nice_ceiling(quarter(max.saturating_add(99) / 100).max(1))
            .saturating_mul(4)
            .saturating_mul(100),
    }
}

/// Escapes text for SVG/HTML character data and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

impl BarChart {
    /// The sentence a screen reader reads for the chart: what it covers, the total and the peak.
    pub fn summary(&self) -> String {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return format!("{}: no data.", self.title);
        };
        let total: i64 = self.points.iter().map(|(_, v)| *v).fold(0i64, i64::saturating_add);
        if total == 0 && self.points.iter().all(|(_, v)| *v == 0) {
            return format!("{}: nothing from {} to {}.", self.title, first.0, last.0);
        }
        let peak = self
            .points
            .iter()
            .max_by_key(|(_, v)| *v)
            .map(|(label, v)| format!("highest {} on {label}", self.unit.full(*v)))
            .unwrap_or_default();
        let span = if self.points.len() == 1 {
            format!("on {}", first.0)
        } else {
            format!("from {} to {}, {} periods", first.0, last.0, self.points.len())
        };
        format!("{}: {} {span}; {peak}.", self.title, self.unit.full(total))
    }

    /// The figures as text rows (label, value written in full), for a table beside the chart.
    pub fn rows(&self) -> Vec<(String, String)> {
        self.points.iter().map(|(label, v)| (label.clone(), self.unit.full(*v))).collect()
    }

    /// The chart as an inline `<svg>` element; every text in it is escaped.
    pub fn svg(&self) -> String {
        let id = escape(self.id);
        let mut out = String::with_capacity(1024 + self.points.len() * 160);
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
            title = escape(&self.title),
            desc = escape(&self.summary()),
        );
        let _ = write!(
            out,
            r#"<text x="{LEFT}" y="18" class="chart-title" font-size="14" font-weight="600" fill="currentColor">{}</text>"#,
            escape(&self.title)
        );
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let base = TOP + plot_h;
        let max = self.points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(0);
        let ceiling = axis_ceiling(max, &self.unit);
        // Four horizontal grid lines with their values.
        for step in 0..=4i64 {
            let value = ceiling / 4 * step;
            let y = base - plot_h * step / 4;
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#d9d4cc" stroke-width="1"/><text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b544c">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6,
                y + 4,
                escape(&self.unit.tick(value))
            );
        }
        if self.points.is_empty() {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" text-anchor="middle" font-size="13" fill="#5b544c">No data yet</text>"##,
                LEFT + plot_w / 2,
                TOP + plot_h / 2
            );
        } else {
            let n = i64::try_from(self.points.len()).unwrap_or(i64::MAX);
            let slot = (plot_w * 100 / n).max(1); // hundredths of a unit per bar
            let bar = (slot * 7 / 10).max(30);
            for (i, (label, value)) in self.points.iter().enumerate() {
                let i = i64::try_from(i).unwrap_or(0);
                let height = if ceiling > 0 {
                    i64::try_from(i128::from((*value).max(0)) * i128::from(plot_h) / i128::from(ceiling)).unwrap_or(plot_h)
                } else {
                    0
                };
                let x = LEFT * 100 + slot * i + (slot - bar) / 2;
                let _ = write!(
                    out,
                    r##"<rect x="{}.{:02}" y="{}" width="{}.{:02}" height="{}" fill="#8a4b2a"><title>{}: {}</title></rect>"##,
                    x / 100,
                    x % 100,
                    base - height,
                    bar / 100,
                    bar % 100,
                    height,
                    escape(label),
                    escape(&self.unit.full(*value))
                );
            }
            // Labels under the first, the middle and the last bar.
            let mut labelled = vec![0usize];
            if self.points.len() > 2 {
                labelled.push(self.points.len() / 2);
            }
            if self.points.len() > 1 {
                labelled.push(self.points.len() - 1);
            }
            for i in labelled {
                let centre = LEFT * 100 + slot * i64::try_from(i).unwrap_or(0) + slot / 2;
                let anchor = match i {
                    0 if self.points.len() > 1 => "start",
                    i if i + 1 == self.points.len() && self.points.len() > 1 => "end",
                    _ => "middle",
                };
                let x = match anchor {
                    "start" => LEFT * 100,
                    "end" => (WIDTH - RIGHT) * 100,
                    _ => centre,
                };
                let _ = write!(
                    out,
                    r##"<text x="{}.{:02}" y="{}" text-anchor="{anchor}" font-size="11" fill="#5b544c">{}</text>"##,
                    x / 100,
                    x % 100,
                    base + 18,
                    escape(&self.points[i].0)
                );
            }
        }
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}" stroke="#5b544c" stroke-width="1"/></svg>"##
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(String, i64)>, unit: Unit) -> BarChart {
        BarChart {
            id: "sales",
            title: "Sales, last 30 days".to_owned(),
            unit,
            points,
        }
    }

    fn count_of(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn an_empty_series_says_so_and_still_has_axes() {
        let c = chart(vec![], Unit::Count);
        let svg = c.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("No data yet"));
        assert_eq!(count_of(&svg, "<rect"), 0);
        assert!(svg.contains(r#"aria-labelledby="sales-title sales-desc""#));
        assert_eq!(c.summary(), "Sales, last 30 days: no data.");
        assert!(c.rows().is_empty());
    }

    #[test]
    fn one_point_is_one_bar_with_its_label_and_value() {
        let c = chart(vec![("2026-12-01".to_owned(), 12_345)], Unit::Money("USD".to_owned()));
        let svg = c.svg();
        assert_eq!(count_of(&svg, "<rect"), 1);
        assert!(svg.contains("2026-12-01: 123.45 USD"));
        assert_eq!(count_of(&svg, ">2026-12-01</text>"), 1);
        assert_eq!(
            c.summary(),
            "Sales, last 30 days: 123.45 USD on 2026-12-01; highest 123.45 USD on 2026-12-01."
        );
        // The axis reaches a round number of major units above the value.
        assert!(svg.contains(">200 USD</text>"), "{svg}");
        assert!(svg.contains(">0 USD</text>"));
    }

    #[test]
    fn a_large_series_keeps_every_bar_inside_the_plot_and_labels_three() {
        let points: Vec<(String, i64)> = (0..400).map(|i| (format!("d{i}"), i * 1_000_003)).collect();
        let c = chart(points, Unit::Count);
        let svg = c.svg();
        assert_eq!(count_of(&svg, "<rect"), 400);
        assert_eq!(count_of(&svg, "text-anchor=\"start\""), 1);
        assert_eq!(count_of(&svg, "text-anchor=\"end\" font-size=\"11\" fill=\"#5b544c\">d399"), 1);
        for height in svg.split("height=\"").skip(1).map(|s| s.split('"').next().unwrap_or("")) {
            let h: i64 = height.parse().unwrap_or(-1);
            assert!((0..=HEIGHT - TOP - BOTTOM).contains(&h), "bar height {h}");
        }
        assert!(c.summary().contains("400 periods"));
        assert!(c.summary().contains("highest 399,001,197 on d399"));
    }

    #[test]
    fn all_zero_values_draw_flat_bars_and_say_nothing_happened() {
        let c = chart(vec![("a".into(), 0), ("b".into(), 0)], Unit::Count);
        assert!(c.svg().contains("height=\"0\""));
        assert_eq!(c.summary(), "Sales, last 30 days: nothing from a to b.");
    }

    #[test]
    fn text_is_escaped() {
        let mut c = chart(vec![("<script>".into(), 5)], Unit::Count);
        c.title = "A & \"B\"".into();
        let svg = c.svg();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("A &amp; &quot;B&quot;"));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let c = chart(vec![("x".into(), i64::MAX), ("y".into(), -5)], Unit::Money("EUR".into()));
        let svg = c.svg();
        assert_eq!(count_of(&svg, "<rect"), 2);
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(Unit::Count.full(1_234_567), "1,234,567");
        assert_eq!(Unit::Money("USD".into()).full(-123_456), "-1,234.56 USD");
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(0), 1);
    }
}
