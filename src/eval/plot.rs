//! SVG plots of evaluation results, drawn with plotters' SVG backend: a row-normalised
//! confusion-matrix heat map, a ROC curve, and accuracy curves over a series of conditions.
//!
//! Text is written as SVG `<text>` elements (font family `sans-serif`), so drawing needs no
//! font files or font libraries; the viewer renders the text.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::metrics::{ConfusionMatrix, RocCurve};
use crate::{Error, Result};

/// Side of one heat-map cell, in pixels, unless the class names need more.
const MIN_CELL_PX: u32 = 72;
/// Approximate width of one character of 13 px sans-serif text, for layout.
const CHAR_PX: u32 = 8;
/// Darkest heat-map colour (a full row, 100 %).
const HEAT_DARK: (u8, u8, u8) = (23, 70, 140);

/// Converts a plotters drawing error into an [`Error::Io`] for `path`.
pub(crate) fn draw_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::io(path, std::io::Error::other(format!("drawing failed: {e}")))
}

/// Writes finished SVG text to `path`, creating missing parent directories.
pub(crate) fn write_svg(svg: &str, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, svg).map_err(|e| Error::io(path, e))
}

/// Colour of a heat-map cell holding `fraction` (0..=1) of its row: white to dark blue.
fn heat_colour(fraction: f64) -> RGBColor {
    let t = fraction.clamp(0.0, 1.0);
    let mix = |dark: u8| (255.0 - (255.0 - f64::from(dark)) * t).round() as u8;
    RGBColor(mix(HEAT_DARK.0), mix(HEAT_DARK.1), mix(HEAT_DARK.2))
}

/// Draws `confusion` as a heat map and writes it as SVG to `path`.
///
/// Rows are the true classes and columns the predicted ones, both named by `labels`. Each cell
/// is coloured by its share of the row (row-normalised, so the diagonal shows per-class
/// recall) and prints that share as a percentage above the raw count. Rows of classes with no
/// support are left white and show only the count, 0.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when `labels.len()` differs from the number of classes;
/// [`Error::Io`] when the file cannot be written.
pub fn plot_confusion_matrix<S: AsRef<str>>(
    confusion: &ConfusionMatrix,
    labels: &[S],
    title: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let n = confusion.n_classes();
    if labels.len() != n {
        return Err(Error::InvalidConfig(format!(
            "{} labels given for a {n}-class confusion matrix",
            labels.len()
        )));
    }
    let longest = labels
        .iter()
        .map(|l| l.as_ref().chars().count() as u32)
        .max()
        .unwrap_or(0);
    let cell = MIN_CELL_PX.max(longest * CHAR_PX + 12);
    let left = 40 + longest * CHAR_PX + 12; // axis title + row names
    let top = 70; // title and subtitle
    let bottom = 70; // column names and axis title
    let right = 20;
    let side = cell * n as u32;
    let size = (left + side + right, top + side + bottom);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_heat_map(&root, confusion, labels, title, (left, top, cell))
            .map_err(draw_error(path))?;
        root.present().map_err(draw_error(path))?;
    }
    write_svg(&svg, path)
}

/// The drawing commands of [`plot_confusion_matrix`]; `(left, top, cell)` place the grid.
fn draw_heat_map<S: AsRef<str>>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    confusion: &ConfusionMatrix,
    labels: &[S],
    title: &str,
    (left, top, cell): (u32, u32, u32),
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let n = confusion.n_classes();
    let (left, top, cell) = (left as i32, top as i32, cell as i32);
    let side = cell * n as i32;
    let centre = Pos::new(HPos::Center, VPos::Center);
    let title_style = ("sans-serif", 22).into_font().color(&BLACK).pos(centre);
    let note_style = ("sans-serif", 14).into_font().color(&BLACK).pos(centre);
    let name_style = ("sans-serif", 15).into_font().color(&BLACK);
    let axis_style = ("sans-serif", 17).into_font().color(&BLACK).pos(centre);
    let mid_x = left + side / 2;

    root.fill(&WHITE)?;
    root.draw(&Text::new(title.to_owned(), (mid_x, 22), title_style))?;
    root.draw(&Text::new(
        "cells: % of the true class (count)",
        (mid_x, 48),
        note_style,
    ))?;

    let fractions = confusion.row_normalized();
    for (t, row) in confusion.counts().iter().enumerate() {
        let has_support = row.iter().any(|&c| c > 0);
        for (p, &count) in row.iter().enumerate() {
            let x0 = left + p as i32 * cell;
            let y0 = top + t as i32 * cell;
            let fraction = fractions[t][p];
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                heat_colour(fraction).filled(),
            ))?;
            let ink = if fraction > 0.55 { WHITE } else { BLACK };
            let (cx, cy) = (x0 + cell / 2, y0 + cell / 2);
            if has_support {
                let percent = format!("{:.1}%", 100.0 * fraction);
                let style = ("sans-serif", 16).into_font().color(&ink).pos(centre);
                root.draw(&Text::new(percent, (cx, cy - 9), style))?;
            }
            let count_style = ("sans-serif", 13).into_font().color(&ink).pos(centre);
            let count_y = if has_support { cy + 11 } else { cy };
            root.draw(&Text::new(format!("({count})"), (cx, count_y), count_style))?;
        }
    }
    // Grid outline.
    root.draw(&Rectangle::new(
        [(left, top), (left + side, top + side)],
        BLACK.stroke_width(1),
    ))?;

    for (c, label) in labels.iter().enumerate() {
        let centre_of = c as i32 * cell + cell / 2;
        // Row names, right-aligned against the grid.
        root.draw(&Text::new(
            label.as_ref().to_owned(),
            (left - 8, top + centre_of),
            name_style.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        // Column names, centred under the grid.
        root.draw(&Text::new(
            label.as_ref().to_owned(),
            (left + centre_of, top + side + 16),
            name_style.clone().pos(centre),
        ))?;
    }
    root.draw(&Text::new(
        "predicted class",
        (mid_x, top + side + 46),
        axis_style.clone(),
    ))?;
    root.draw(&Text::new(
        "true class",
        (16, top + side / 2),
        axis_style.transform(FontTransform::Rotate270),
    ))?;
    Ok(())
}

/// Draws `roc` (true-positive rate against false-positive rate) with the chance diagonal and
/// writes it as SVG to `path`. The AUC is shown in the legend and appended to `title`.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be written.
pub fn plot_roc_curve(roc: &RocCurve, title: &str, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 600)).into_drawing_area();
        draw_roc(&root, roc, title).map_err(draw_error(path))?;
        root.present().map_err(draw_error(path))?;
    }
    write_svg(&svg, path)
}

/// The drawing commands of [`plot_roc_curve`].
fn draw_roc(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    roc: &RocCurve,
    title: &str,
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{title} (AUC = {:.3})", roc.auc),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .x_labels(6)
        .y_labels(6)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            grey.stroke_width(1),
        ))?
        .label("chance (AUC = 0.5)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(1)));

    let curve_colour = RGBColor(HEAT_DARK.0, HEAT_DARK.1, HEAT_DARK.2);
    chart
        .draw_series(LineSeries::new(
            roc.points.iter().map(|p| (p.fpr, p.tpr)),
            curve_colour.stroke_width(2),
        ))?
        .label(format!(
            "ROC (AUC = {:.3}; {} positive, {} negative)",
            roc.auc, roc.n_positive, roc.n_negative
        ))
        .legend(move |(x, y)| {
            PathElement::new([(x, y), (x + 20, y)], curve_colour.stroke_width(2))
        });

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One line of [`plot_curves`]: a value per condition, with an optional spread (drawn as a
/// bar of ± that much around each point).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend text.
    pub label: String,
    /// The value at each condition (`None` where it was not measured), in [0, 1].
    pub values: Vec<Option<f64>>,
    /// Spread at each condition (a standard deviation over folds), same length as `values`.
    pub spread: Option<Vec<f64>>,
    /// Dashed (a reference line) rather than solid.
    pub dashed: bool,
}

/// Line colours of [`plot_curves`], in order (then repeated).
const CURVE_COLOURS: [(u8, u8, u8); 8] = [
    (23, 70, 140),
    (200, 80, 20),
    (40, 140, 60),
    (150, 40, 150),
    (120, 120, 120),
    (20, 150, 170),
    (180, 30, 60),
    (110, 90, 20),
];

/// Draws accuracy-like `curves` (values in [0, 1]) against the conditions named by
/// `conditions` (the x axis, in order: say clean, then rising severities) and writes the SVG
/// to `path`. Curves with the same index share a colour across plots.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when a curve's length differs from the conditions';
/// [`Error::Io`] when the file cannot be written.
pub fn plot_curves<S: AsRef<str>>(
    curves: &[Curve],
    conditions: &[S],
    title: &str,
    x_desc: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let names: Vec<String> = conditions.iter().map(|c| c.as_ref().to_string()).collect();
    for c in curves {
        if c.values.len() != names.len()
            || c.spread.as_ref().is_some_and(|s| s.len() != names.len())
        {
            return Err(Error::InvalidConfig(format!(
                "curve {:?} has {} values for {} conditions",
                c.label,
                c.values.len(),
                names.len()
            )));
        }
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 520)).into_drawing_area();
        draw_curves(&root, curves, &names, title, x_desc).map_err(draw_error(path))?;
        root.present().map_err(draw_error(path))?;
    }
    write_svg(&svg, path)
}

/// The drawing commands of [`plot_curves`].
fn draw_curves(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    curves: &[Curve],
    names: &[String],
    title: &str,
    x_desc: &str,
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let last = names.len().saturating_sub(1).max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.2f64..last + 0.2, 0f64..1f64)?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("accuracy")
        .x_labels(names.len().max(2))
        .x_label_formatter(&label_of)
        .y_labels(11)
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, c) in curves.iter().enumerate() {
        let (r, g, b) = CURVE_COLOURS[i % CURVE_COLOURS.len()];
        let colour = RGBColor(r, g, b);
        let style = colour.stroke_width(2);
        let points: Vec<(f64, f64)> = c
            .values
            .iter()
            .enumerate()
            .filter_map(|(x, v)| v.map(|v| (x as f64, v)))
            .collect();
        let dashed = c.dashed;
        let series = if dashed {
            chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))?
        };
        series
            .label(c.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        if let Some(spread) = &c.spread {
            chart.draw_series(points.iter().map(|&(x, y)| {
                let s = spread[x as usize];
                PathElement::new(
                    [(x, (y - s).max(0.0)), (x, (y + s).min(1.0))],
                    colour.stroke_width(1),
                )
            }))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::roc_curve;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("facevox-eval-{name}-{}", std::process::id()))
    }

    #[test]
    fn heat_colour_runs_from_white_to_dark() {
        assert_eq!(heat_colour(0.0), RGBColor(255, 255, 255));
        assert_eq!(
            heat_colour(1.0),
            RGBColor(HEAT_DARK.0, HEAT_DARK.1, HEAT_DARK.2)
        );
        assert_eq!(heat_colour(2.0), heat_colour(1.0));
    }

    #[test]
    fn confusion_matrix_svg_has_names_percentages_and_counts() {
        // Row "sad" (true class 2): 1 neutral, 2 happy, 1 sad -> 25.0 %, 50.0 %, 25.0 %.
        // Row "fearful" (class 3) has no support: counts only.
        let confusion = ConfusionMatrix::from_predictions(
            &[0, 0, 0, 1, 1, 2, 2, 2, 2],
            &[0, 0, 1, 1, 1, 0, 1, 1, 2],
            4,
        )
        .unwrap();
        let labels = ["neutral", "happy", "sad", "fearful"];
        let dir = temp_dir("cm");
        let path = dir.join("sub").join("confusion.svg");
        plot_confusion_matrix(&confusion, &labels, "Emotion <voice>", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.len() > 2000, "only {} bytes", svg.len());
        assert!(svg.starts_with("<svg"));
        for name in labels {
            // Each name appears twice: row and column.
            assert_eq!(svg.matches(&format!(">\n{name}\n<")).count(), 2, "{name}");
        }
        assert!(svg.contains("66.7%") && svg.contains("33.3%"));
        assert!(svg.contains("25.0%") && svg.contains("50.0%"));
        assert!(svg.contains("(2)"));
        assert!(svg.contains("Emotion &lt;voice&gt;"));
        // 16 cells + outline + background.
        assert!(svg.matches("<rect").count() >= 17);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn confusion_matrix_plot_checks_label_count() {
        let confusion = ConfusionMatrix::from_counts(vec![vec![1, 0], vec![0, 1]]).unwrap();
        let path = temp_dir("cm-bad").join("x.svg");
        assert!(plot_confusion_matrix(&confusion, &["a"], "t", &path).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn roc_svg_has_curve_diagonal_and_auc() {
        let roc = roc_curve(
            &[false, false, false, false, true, true, true, true],
            &[0.1, 0.4, 0.6, 0.35, 0.8, 0.35, 0.7, 0.9],
        )
        .unwrap();
        let dir = temp_dir("roc");
        let path = dir.join("roc.svg");
        plot_roc_curve(&roc, "Gender", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.len() > 2000, "only {} bytes", svg.len());
        assert!(svg.contains("Gender (AUC = 0.844)"));
        assert!(svg.contains("chance (AUC = 0.5)"));
        assert!(svg.contains("false-positive rate") && svg.contains("true-positive rate"));
        assert!(svg.matches("<polyline").count() >= 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_path_is_an_io_error() {
        let roc = roc_curve(&[false, true], &[0.2, 0.8]).unwrap();
        let dir = temp_dir("roc-err");
        std::fs::create_dir_all(&dir).unwrap();
        // The target is an existing directory.
        let err = plot_roc_curve(&roc, "t", &dir).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn curves_svg_has_every_line_condition_and_legend() {
        let curves = vec![
            Curve {
                label: "face emotion".into(),
                values: vec![Some(0.8), Some(0.6), None],
                spread: Some(vec![0.02, 0.05, 0.0]),
                dashed: false,
            },
            Curve {
                label: "voice alone (clean)".into(),
                values: vec![Some(0.6); 3],
                spread: None,
                dashed: true,
            },
        ];
        let dir = temp_dir("curves");
        let path = dir.join("c.svg");
        plot_curves(
            &curves,
            &["clean", "sigma 1", "sigma 2"],
            "Blur",
            "severity",
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        for text in [
            "face emotion",
            "voice alone (clean)",
            "clean",
            "sigma 1",
            "sigma 2",
            "Blur",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Two measured points of the first curve, three of the second.
        assert_eq!(svg.matches("<circle").count(), 5);
        std::fs::remove_dir_all(&dir).unwrap();
        let bad = Curve {
            values: vec![Some(0.5)],
            ..curves[0].clone()
        };
        assert!(plot_curves(&[bad], &["a", "b"], "t", "x", dir.join("x.svg")).is_err());
    }
}
