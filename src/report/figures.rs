//! Figures drawn with plotters, once per backend: SVG for reading and HTML, PNG (text in the
//! embedded [`crate::font`]) for LaTeX.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::document::Figure;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 440;
const FONT: &str = crate::font::FAMILY;

/// Colours that stay apart in print and for colour-blind readers (Okabe-Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Something drawable on any plotters backend.
trait Plot {
    fn alt(&self) -> String;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// Draws `plot` into an SVG string and a PNG.
fn render(plot: &impl Plot) -> Result<Figure, String> {
    crate::font::register();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        plot.draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        plot.draw(&root)?;
        root.present().map_err(err)?;
    }
    let image = image::RgbImage::from_raw(WIDTH, HEIGHT, pixels).expect("buffer of the right size");
    Ok(Figure {
        svg,
        png: crate::images::png_bytes(&image),
        alt: plot.alt(),
    })
}

/// One line of a fraction plot: mean and standard deviation over seeds at each fraction.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// (fraction in percent, mean, sd), by fraction.
    pub points: Vec<(f64, f64, f64)>,
}

/// Figure 7: a metric against the fraction of attack data, mean with a band of ±1 sd.
pub fn fraction_plot(title: &str, y_label: &str, series: &[Series]) -> Result<Figure, String> {
    render(&FractionPlot {
        title,
        y_label,
        series,
    })
}

struct FractionPlot<'a> {
    title: &'a str,
    y_label: &'a str,
    series: &'a [Series],
}

impl Plot for FractionPlot<'_> {
    fn alt(&self) -> String {
        format!(
            "{}: {} against the fraction of attack data",
            self.title, self.y_label
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(_, m, sd) in points {
            lo = lo.min(m - sd);
            hi = hi.max(m + sd);
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err("no finite values to plot".into());
        }
        let pad = ((hi - lo) * 0.12).max(hi.abs().max(1e-9) * 0.01);
        let first = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(100.0, f64::min);
        let x_lo = (first - 10.0).max(0.0);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(74)
            .build_cartesian_2d(x_lo..105f64, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("attack data used (% of the query set)")
            .y_desc(self.y_label)
            .x_label_formatter(&|x| format!("{x:.0}%"))
            .y_label_formatter(&|y| trim_number(*y))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut band: Vec<(f64, f64)> =
                s.points.iter().map(|&(x, m, sd)| (x, m + sd)).collect();
            band.extend(s.points.iter().rev().map(|&(x, m, sd)| (x, m - sd)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.18).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|&(x, m, _)| (x, m)),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&(x, m, _)| Circle::new((x, m), 4, color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// Figure 6: the two models' rating histograms side by side, with dashed lines at the means.
pub fn likert_histogram(
    title: &str,
    scale: [i64; 2],
    groups: [(&str, &[f64]); 2],
) -> Result<Figure, String> {
    render(&Likert {
        title,
        scale,
        groups,
    })
}

struct Likert<'a> {
    title: &'a str,
    scale: [i64; 2],
    groups: [(&'a str, &'a [f64]); 2],
}

impl Plot for Likert<'_> {
    fn alt(&self) -> String {
        format!(
            "{}: histograms of the ratings of {} and {} on a {}-{} scale",
            self.title, self.groups[0].0, self.groups[1].0, self.scale[0], self.scale[1]
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let [lo, hi] = self.scale;
        let share = |values: &[f64], k: i64| {
            values.iter().filter(|v| v.round() as i64 == k).count() as f64
                / values.len().max(1) as f64
        };
        let top = self
            .groups
            .iter()
            .flat_map(|(_, v)| (lo..=hi).map(move |k| share(v, k)))
            .fold(0.0, f64::max);
        let y_top = (top * 1.15).max(0.05);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d((lo as f64 - 0.6)..(hi as f64 + 0.6), 0f64..y_top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("rating")
            .y_desc("share of ratings")
            .x_labels((hi - lo + 1) as usize)
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 {
                    format!("{}", x.round() as i64)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for (i, (name, values)) in self.groups.iter().enumerate() {
            let color = PALETTE[i];
            let offset = if i == 0 { -0.2 } else { 0.2 };
            let (mean, sd) = crate::stats::mean_and_sd(values);
            chart
                .draw_series((lo..=hi).map(|k| {
                    let x = k as f64 + offset;
                    Rectangle::new(
                        [(x - 0.18, 0.0), (x + 0.18, share(values, k))],
                        color.mix(0.75).filled(),
                    )
                }))
                .map_err(err)?
                .label(format!("{name}: mean {mean:.2}, sd {sd:.2}"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                });
            // A dashed vertical line: every other twentieth of the height.
            chart
                .draw_series((0..20).step_by(2).map(|j| {
                    let y = y_top * f64::from(j) / 20.0;
                    PathElement::new(
                        vec![(mean, y), (mean, y + y_top / 20.0)],
                        color.stroke_width(2),
                    )
                }))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// `0.25`, `12.5`, `1e-4`: axis numbers without trailing zeros.
fn trim_number(y: f64) -> String {
    if y != 0.0 && y.abs() < 1e-3 {
        return format!("{y:.1e}");
    }
    let s = format!("{y:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}
