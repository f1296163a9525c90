//! SVG plots drawn with plotters' SVG backend (no fonts, no bitmap stack: the browser
//! renders the text), returned as strings so the page can inline them and the site can
//! also write them as files. The same input gives the same bytes.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::dates::{days_from_iso, iso_from_days};
use crate::format::TimeUnit;
use crate::nightly::NightlyRow;

/// Plot size in pixels (the page scales it with CSS).
pub const SIZE: (u32, u32) = (760, 420);

type DrawResult = std::result::Result<(), String>;

/// The legend every plot uses: top right, on a translucent white box.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> DrawResult
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn render(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> std::result::Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn pad_range(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = (hi - lo).abs();
    let pad = if span > 0.0 {
        span * frac
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

/// One dated record for the step plot.
#[derive(Debug, Clone, PartialEq)]
pub struct DatedTime {
    /// YYYY-MM-DD.
    pub date: String,
    pub time_ms: f64,
}

/// Record time against date as a step plot: each record holds until the next one.
/// `imported` marks the plot (title and a banner) as imported and unverified, and uses
/// a log time axis, since published histories span orders of magnitude.
pub fn record_steps(
    title: &str,
    series: &[(String, Vec<DatedTime>)],
    imported: bool,
) -> std::result::Result<String, String> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, s)| s.iter())
        .filter_map(|d| Some((days_from_iso(&d.date)?, d.time_ms)))
        .collect();
    let (d_lo, d_hi) = min_max(pts.iter().map(|p| p.0));
    // Dates get at least ten days either side, so one record is not a lone dot in a
    // decade-wide axis.
    let (x0, x1) = if d_lo.is_finite() {
        let pad = ((d_hi - d_lo) * 0.04).max(1.0);
        if d_hi > d_lo {
            (d_lo - pad, d_hi + pad)
        } else {
            (d_lo - 10.0, d_hi + 10.0)
        }
    } else {
        (0.0, 1.0)
    };
    let x_labels = ((x1 - x0).round() as usize).clamp(2, 6);
    let (t_lo, t_hi) = min_max(pts.iter().map(|p| p.1));
    // A log axis (imported histories) reads best in the unit of its smallest value.
    let unit_ref = if imported { t_lo } else { t_hi };
    let unit = TimeUnit::for_ms(if unit_ref.is_finite() { unit_ref } else { 1.0 });
    let (y0, y1) = if imported {
        (
            t_lo.max(1e-9) / unit.divisor() * 0.8,
            t_hi / unit.divisor() * 1.25,
        )
    } else {
        let (a, b) = pad_range(t_lo / unit.divisor(), t_hi / unit.divisor(), 0.1);
        (a.max(0.0), b)
    };
    let (y0, y1) = if y0.is_finite() && y1.is_finite() && y1 > y0 {
        (y0, y1)
    } else {
        (0.1, 1.0)
    };
    render(|root| {
        let area = if imported {
            let (banner, rest) = root.split_vertically(26);
            banner
                .draw(&Text::new(
                    "IMPORTED, UNVERIFIED: published by the benchmark, not certified here",
                    (12, 8),
                    ("sans-serif", 14).into_font().color(&RED),
                ))
                .map_err(err)?;
            rest
        } else {
            root.clone()
        };
        let mut b = ChartBuilder::on(&area);
        b.caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64);
        let x_fmt = |x: &f64| iso_from_days(*x);
        let y_desc = format!("record time ({})", unit.suffix());
        let palette = [&RED, &BLUE, &GREEN, &MAGENTA, &CYAN, &BLACK];
        // The two branches differ only in the y coordinate type (log or linear).
        macro_rules! draw_series {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_labels(x_labels)
                    .x_label_formatter(&x_fmt)
                    .y_desc(y_desc.as_str())
                    .x_desc("date")
                    .draw()
                    .map_err(err)?;
                for (i, (name, s)) in series.iter().enumerate() {
                    let color = palette[i % palette.len()];
                    let mut p: Vec<(f64, f64)> = s
                        .iter()
                        .filter_map(|d| Some((days_from_iso(&d.date)?, d.time_ms / unit.divisor())))
                        .collect();
                    p.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let mut steps = Vec::with_capacity(p.len() * 2);
                    for (j, &(x, y)) in p.iter().enumerate() {
                        if j > 0 {
                            steps.push((x, p[j - 1].1));
                        }
                        steps.push((x, y));
                    }
                    chart
                        .draw_series(LineSeries::new(steps, color.stroke_width(2)))
                        .map_err(err)?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                        });
                    chart
                        .draw_series(
                            p.iter()
                                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                        )
                        .map_err(err)?;
                }
                legend(&mut chart)?;
            }};
        }
        if imported {
            draw_series!(
                b.build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                    .map_err(err)?
            );
        } else {
            draw_series!(b.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?);
        }
        Ok(())
    })
}

/// All measured runs (grey) and the Pareto frontier (red steps) in (time, loss).
pub fn frontier(
    title: &str,
    all: &[(f64, f64)],
    pareto: &[(f64, f64)],
) -> std::result::Result<String, String> {
    let (tx0, tx1) = min_max(all.iter().map(|p| p.0));
    let unit = TimeUnit::for_ms(if tx1.is_finite() { tx1 } else { 1.0 });
    let (x0, x1) = pad_range(tx0 / unit.divisor(), tx1 / unit.divisor(), 0.05);
    let (ly0, ly1) = min_max(all.iter().map(|p| p.1));
    let (y0, y1) = pad_range(ly0, ly1, 0.08);
    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("train time ({})", unit.suffix()))
            .y_desc("val loss")
            .draw()
            .map_err(err)?;
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(
                all.iter()
                    .map(|&(t, l)| Circle::new((t / unit.divisor(), l), 2, grey.filled())),
            )
            .map_err(err)?
            .label("validations of valid candidate runs")
            .legend(move |(x, y)| Circle::new((x + 9, y), 3, grey.filled()));
        let mut steps = Vec::new();
        for (j, &(t, l)) in pareto.iter().enumerate() {
            let x = t / unit.divisor();
            if j > 0 {
                steps.push((x, pareto[j - 1].1));
            }
            steps.push((x, l));
        }
        if let Some(&(_, l)) = pareto.last() {
            steps.push((x1, l));
        }
        chart
            .draw_series(LineSeries::new(steps, RED.stroke_width(2)))
            .map_err(err)?
            .label("frontier: best loss within a time budget")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
        chart
            .draw_series(
                pareto
                    .iter()
                    .map(|&(t, l)| Circle::new((t / unit.divisor(), l), 4, RED.filled())),
            )
            .map_err(err)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Validation loss against train time for several runs, with the target as a dashed
/// line when known.
pub fn loss_curves(
    title: &str,
    curves: &[(String, Vec<(f64, f64)>)],
    target: Option<f64>,
) -> std::result::Result<String, String> {
    let all = curves.iter().flat_map(|(_, c)| c.iter());
    let (tx0, tx1) = min_max(all.clone().map(|p| p.0));
    let unit = TimeUnit::for_ms(if tx1.is_finite() { tx1 } else { 1.0 });
    let (x0, x1) = pad_range(tx0.min(0.0) / unit.divisor(), tx1 / unit.divisor(), 0.03);
    let (ly0, ly1) = min_max(all.map(|p| p.1).chain(target));
    let (y0, y1) = pad_range(ly0, ly1, 0.05);
    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("train time ({})", unit.suffix()))
            .y_desc("validation loss")
            .draw()
            .map_err(err)?;
        for (i, (name, c)) in curves.iter().enumerate() {
            let color = Palette99::pick(i);
            chart
                .draw_series(LineSeries::new(
                    c.iter().map(|&(t, l)| (t / unit.divisor(), l)),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 18, y)],
                        Palette99::pick(i).stroke_width(2),
                    )
                });
        }
        if let Some(t) = target {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, t), (x1, t)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("target {t}"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Where a night sits on a date axis: its day, plus the time of day of `created_at` when
/// that is the same day, so two reruns of one date stand apart.
fn night_x(r: &NightlyRow) -> Option<f64> {
    let day = days_from_iso(&r.date)?;
    let frac = (r.created_at.get(..10) == Some(r.date.as_str()))
        .then(|| {
            let hms = r.created_at.get(11..19)?;
            let mut it = hms.split(':').map(|p| p.parse::<f64>().ok());
            let (h, m, s) = (it.next()??, it.next()??, it.next()??);
            Some((h * 3600.0 + m * 60.0 + s) / 86_400.0)
        })
        .flatten()
        .filter(|f| (0.0..1.0).contains(f))
        .unwrap_or(0.0);
    Some(day + frac)
}

/// The nights that reran one record, and the band a healthy rerun should land in.
struct Period {
    number: u32,
    first: f64,
    last: f64,
    mean: f64,
    /// Half-width of the band, when there is one.
    half: Option<f64>,
    /// The half-width is the reruns' largest σ, the record having no σ of its own.
    fallback: bool,
}

/// Groups nights (in x order) into runs of the same record.
fn periods(nights: &[(f64, &NightlyRow)]) -> Vec<Period> {
    let mut out: Vec<(Period, Vec<&NightlyRow>)> = Vec::new();
    for &(x, r) in nights {
        match out.last_mut() {
            Some((p, rs))
                if rs.last().is_some_and(|l| {
                    l.record_number == r.record_number && l.record_bundle == r.record_bundle
                }) =>
            {
                p.last = x;
                rs.push(r);
            }
            _ => out.push((
                Period {
                    number: r.record_number,
                    first: x,
                    last: x,
                    mean: f64::NAN,
                    half: None,
                    fallback: false,
                },
                vec![r],
            )),
        }
    }
    out.into_iter()
        .map(|(mut p, rs)| {
            // The record's figures are the same on every night of the period; the latest
            // row wins should an evaluator change have altered them.
            let last = rs[rs.len() - 1];
            p.mean = last.record_time_mean_ms;
            match last.record_time_sd_ms.filter(|sd| sd.is_finite()) {
                Some(sd) => p.half = Some(2.0 * sd),
                // A record without a standard deviation (one run) has no spread of its
                // own: fall back to the largest spread the reruns of that record showed.
                None => {
                    p.half = rs
                        .iter()
                        .filter_map(|r| r.time_sd_ms.filter(|sd| sd.is_finite()))
                        .reduce(f64::max);
                    p.fallback = p.half.is_some();
                }
            }
            p
        })
        .collect()
}

/// Colours of the nightly plot: the record in blue, nights in near-black, drift in red.
const BAND_BLUE: RGBColor = RGBColor(33, 113, 181);
const NIGHT_INK: RGBColor = RGBColor(40, 40, 40);
const DRIFT_RED: RGBColor = RGBColor(200, 30, 30);
const FAILED_ORANGE: RGBColor = RGBColor(230, 120, 0);

/// One track's nightly reruns against its record: each night's mean time with ±σ
/// whiskers (drifted nights as red triangles), over a shaded band of the record's mean
/// ± 2σ and a line at its mean (± the largest nightly σ for a record with no σ, i.e.
/// one run). The band is drawn per record period, so a new record moves it from the
/// night it was first rerun. Nights whose runs all failed have no
/// time and are marked with a cross on the bottom edge. Rows of other tracks are
/// ignored, so the whole table can be passed. `unit` is the caller's, so the plot reads
/// in the same unit as the table beside it.
pub fn nightly(
    track: &str,
    rows: &[NightlyRow],
    unit: TimeUnit,
) -> std::result::Result<String, String> {
    let mut nights: Vec<(f64, &NightlyRow)> = rows
        .iter()
        .filter(|r| r.track == track)
        .filter_map(|r| Some((night_x(r)?, r)))
        .collect();
    nights.sort_by(|a, b| a.0.total_cmp(&b.0));
    let periods = periods(&nights);
    let div = unit.divisor();

    let (d_lo, d_hi) = min_max(nights.iter().map(|n| n.0));
    let (x0, x1) = if d_lo.is_finite() {
        let pad = ((d_hi - d_lo) * 0.04).max(1.0);
        (d_lo - pad, d_hi + pad)
    } else {
        (0.0, 1.0)
    };
    let x_labels = ((x1 - x0).round() as usize).clamp(2, 6);

    let measured: Vec<(f64, f64, f64, bool)> = nights
        .iter()
        .filter(|(_, r)| r.has_time())
        .map(|&(x, r)| {
            let m = r.time_mean_ms.unwrap_or(f64::NAN) / div;
            let sd = r.time_sd_ms.filter(|s| s.is_finite()).unwrap_or(0.0) / div;
            (x, m, sd, r.drift)
        })
        .collect();
    let failed: Vec<f64> = nights
        .iter()
        .filter(|(_, r)| !r.has_time())
        .map(|n| n.0)
        .collect();
    let (y_lo, y_hi) = min_max(
        measured
            .iter()
            .flat_map(|&(_, m, sd, _)| [m - sd, m + sd])
            .chain(periods.iter().flat_map(|p| {
                let h = p.half.unwrap_or(0.0);
                [(p.mean - h) / div, (p.mean + h) / div]
            })),
    );
    let (y0, y1) = pad_range(y_lo, y_hi, 0.08);
    let y0 = y0.max(0.0);
    // Headroom for the legend: drifted nights are usually slow ones, high on the plot,
    // right where the legend sits.
    let y1 = y1 + (y1 - y0) * 0.5;
    let (y0, y1) = if y1 > y0 { (y0, y1) } else { (0.0, 1.0) };

    // Each record's band runs from halfway between its first night and the previous
    // record's last night to halfway before the next record's first night.
    let mut edges = vec![x0];
    for w in periods.windows(2) {
        edges.push((w[0].last + w[1].first) / 2.0);
    }
    edges.push(x1);
    let spans: Vec<(f64, f64, &Period)> = periods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.mean.is_finite())
        .map(|(i, p)| (edges[i], edges[i + 1], p))
        .collect();

    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{track}: nightly reruns"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        let x_fmt = |x: &f64| iso_from_days(*x);
        chart
            .configure_mesh()
            .x_labels(x_labels)
            .x_label_formatter(&x_fmt)
            .x_desc("night (UTC)")
            .y_desc(format!("train time ({})", unit.suffix()))
            .draw()
            .map_err(err)?;

        let banded: Vec<_> = spans
            .iter()
            .filter_map(|&(a, b, p)| {
                let h = p.half?;
                Some(((a, (p.mean - h) / div), (b, (p.mean + h) / div)))
            })
            .collect();
        if !banded.is_empty() {
            chart
                .draw_series(
                    banded
                        .iter()
                        .map(|&(lo, hi)| Rectangle::new([lo, hi], BAND_BLUE.mix(0.18).filled())),
                )
                .map_err(err)?
                .label(if spans.iter().any(|s| s.2.fallback) {
                    "record mean ± 2σ (no σ: ± largest nightly σ)"
                } else {
                    "record mean ± 2σ"
                })
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], BAND_BLUE.mix(0.18).filled())
                });
        }
        if !spans.is_empty() {
            chart
                .draw_series(spans.iter().map(|&(a, b, p)| {
                    PathElement::new(
                        vec![(a, p.mean / div), (b, p.mean / div)],
                        BAND_BLUE.stroke_width(2),
                    )
                }))
                .map_err(err)?
                .label("record mean")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BAND_BLUE.stroke_width(2))
                });
            // Name each record at the top of its band, so a moved band explains itself.
            chart
                .draw_series(spans.iter().map(|&(a, _, p)| {
                    EmptyElement::at((a, y1))
                        + Text::new(
                            format!("record #{}", p.number),
                            (5, 5),
                            ("sans-serif", 12).into_font().color(&BAND_BLUE),
                        )
                }))
                .map_err(err)?;
        }

        // Whiskers (±σ, capped) under the markers, then the markers.
        for drift in [false, true] {
            let color = if drift { DRIFT_RED } else { NIGHT_INK };
            let pts: Vec<_> = measured.iter().filter(|p| p.3 == drift).collect();
            if pts.is_empty() {
                continue;
            }
            let spread: Vec<_> = pts.iter().filter(|p| p.2 > 0.0).collect();
            chart
                .draw_series(spread.iter().map(|&&&(x, m, sd, _)| {
                    PathElement::new(vec![(x, m - sd), (x, m + sd)], color.stroke_width(1))
                }))
                .map_err(err)?;
            // Caps are a fixed number of pixels wide, whatever the date span.
            chart
                .draw_series(
                    spread
                        .iter()
                        .flat_map(|&&&(x, m, sd, _)| [(x, m - sd), (x, m + sd)])
                        .map(|at| {
                            EmptyElement::at(at)
                                + PathElement::new(vec![(-4, 0), (4, 0)], color.stroke_width(1))
                        }),
                )
                .map_err(err)?;
            if drift {
                chart
                    .draw_series(
                        pts.iter().map(|&&(x, m, _, _)| {
                            TriangleMarker::new((x, m), 6, DRIFT_RED.filled())
                        }),
                    )
                    .map_err(err)?
                    .label("night with drift (mean ± σ)")
                    .legend(|(x, y)| TriangleMarker::new((x + 9, y), 6, DRIFT_RED.filled()));
            } else {
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&&(x, m, _, _)| Circle::new((x, m), 4, NIGHT_INK.filled())),
                    )
                    .map_err(err)?
                    .label("night (mean ± σ)")
                    .legend(|(x, y)| Circle::new((x + 9, y), 4, NIGHT_INK.filled()));
            }
        }
        if !failed.is_empty() {
            chart
                .draw_series(failed.iter().map(|&x| {
                    Cross::new((x, y0 + (y1 - y0) * 0.03), 6, FAILED_ORANGE.stroke_width(2))
                }))
                .map_err(err)?
                .label("runs failed (no time)")
                .legend(|(x, y)| Cross::new((x + 9, y), 6, FAILED_ORANGE.stroke_width(2)));
        }
        legend(&mut chart)?;
        Ok(())
    })
}
