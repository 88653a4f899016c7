//! Calibration: whether a stated confidence matches how often the answer is right.
//!
//! * [`Reliability`]: the reliability table of a set of predictions (15 equal-width confidence
//!   bins by default), with the expected calibration error (ECE: the bins' `|accuracy −
//!   confidence|` weighted by their share of the rows), the negative log-likelihood and the
//!   accuracy.
//! * [`fit_temperature`]: the temperature `T` that minimises the negative log-likelihood of
//!   `p^(1/T)` (renormalised) on held-out predictions — temperature scaling (Guo et al. 2017),
//!   one number per task, which never changes the most likely class.
//! * [`plot_reliability`]: reliability diagrams (accuracy against confidence per bin, before
//!   and after) as SVG.

use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::spec::apply_temperature;
use crate::{Error, Result};

/// The number of bins the reports use.
pub const ECE_BINS: usize = 15;

/// One confidence bin of a [`Reliability`] table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin's confidence range.
    pub lo: f64,
    /// Upper edge (inclusive for the last bin).
    pub hi: f64,
    /// Rows whose confidence falls in the bin.
    pub n: usize,
    /// Their mean confidence (`None` when empty).
    pub confidence: Option<f64>,
    /// Their accuracy (`None` when empty).
    pub accuracy: Option<f64>,
}

/// A reliability table: how often the top class is right, per confidence bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    /// Rows scored.
    pub n: usize,
    /// Accuracy of the top class.
    pub accuracy: f64,
    /// Expected calibration error over the bins.
    pub ece: f64,
    /// Mean negative log-likelihood of the true class.
    pub nll: f64,
    /// The bins, in order of confidence.
    pub bins: Vec<ReliabilityBin>,
}

fn check_rows<P: AsRef<[f32]>>(probs: &[P], labels: &[usize]) -> Result<()> {
    super::metrics::check_lengths("probabilities", probs.len(), "labels", labels.len())?;
    if probs.is_empty() {
        return Err(Error::InvalidConfig("no rows to calibrate on".into()));
    }
    for (p, &l) in probs.iter().zip(labels) {
        let p = p.as_ref();
        if l >= p.len() {
            return Err(Error::InvalidConfig(format!(
                "label {l} is outside a distribution of {} classes",
                p.len()
            )));
        }
        if p.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::NonFinite);
        }
    }
    Ok(())
}

/// The bin of confidence `c` among `bins` equal-width bins of 0..=1.
fn bin_of(c: f32, bins: usize) -> usize {
    ((c as f64 * bins as f64) as usize).min(bins - 1)
}

/// The top class and its probability.
fn top(p: &[f32]) -> (usize, f32) {
    p.iter().copied().enumerate().fold(
        (0, f32::NEG_INFINITY),
        |b, (i, v)| if v > b.1 { (i, v) } else { b },
    )
}

impl Reliability {
    /// The table of `probs` (one distribution per row) against `labels` (the true class of
    /// each row) in `bins` equal-width bins of the top class's probability.
    pub fn new<P: AsRef<[f32]>>(probs: &[P], labels: &[usize], bins: usize) -> Result<Self> {
        check_rows(probs, labels)?;
        if bins == 0 {
            return Err(Error::InvalidConfig("at least one bin".into()));
        }
        let mut n = vec![0usize; bins];
        let mut conf = vec![0f64; bins];
        let mut hits = vec![0usize; bins];
        let (mut tops, mut right) = (Vec::with_capacity(probs.len()), Vec::new());
        let mut nll = 0f64;
        for (p, &l) in probs.iter().zip(labels) {
            let p = p.as_ref();
            let (k, c) = top(p);
            let b = bin_of(c, bins);
            n[b] += 1;
            conf[b] += c as f64;
            hits[b] += usize::from(k == l);
            tops.push(c);
            right.push(k == l);
            nll -= (p[l].max(1e-12) as f64).ln();
        }
        let total = probs.len() as f64;
        let ece = ece_of(&tops, &right, bins).expect("rows and bins checked above");
        Ok(Self {
            n: probs.len(),
            accuracy: hits.iter().sum::<usize>() as f64 / total,
            ece,
            nll: nll / total,
            bins: (0..bins)
                .map(|b| ReliabilityBin {
                    lo: b as f64 / bins as f64,
                    hi: (b + 1) as f64 / bins as f64,
                    n: n[b],
                    confidence: (n[b] > 0).then(|| conf[b] / n[b] as f64),
                    accuracy: (n[b] > 0).then(|| hits[b] as f64 / n[b] as f64),
                })
                .collect(),
        })
    }
}

/// The expected calibration error of answers given as (confidence, right) pairs, in `bins`
/// equal-width confidence bins (`None` when there are none).
pub fn ece_of(confidence: &[f32], right: &[bool], bins: usize) -> Option<f64> {
    if confidence.is_empty() || confidence.len() != right.len() || bins == 0 {
        return None;
    }
    let mut n = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut hits = vec![0usize; bins];
    for (&c, &r) in confidence.iter().zip(right) {
        let b = bin_of(c, bins);
        n[b] += 1;
        conf[b] += c as f64;
        hits[b] += usize::from(r);
    }
    let total = confidence.len() as f64;
    Some(
        (0..bins)
            .map(|b| (hits[b] as f64 - conf[b]).abs() / total)
            .sum(),
    )
}

/// `probs` each scaled by temperature `t` (see [`apply_temperature`]).
pub fn scaled<P: AsRef<[f32]>>(probs: &[P], t: f32) -> Vec<Vec<f32>> {
    probs
        .iter()
        .map(|p| {
            let mut p = p.as_ref().to_vec();
            apply_temperature(&mut p, t);
            p
        })
        .collect()
}

/// Mean negative log-likelihood of `labels` under `probs` scaled by `t`.
fn nll_at<P: AsRef<[f32]>>(probs: &[P], labels: &[usize], t: f64) -> f64 {
    let inv = 1.0 / t;
    let mut total = 0f64;
    for (p, &l) in probs.iter().zip(labels) {
        let logs: Vec<f64> = p
            .as_ref()
            .iter()
            .map(|&v| (v.max(1e-12) as f64).ln() * inv)
            .collect();
        let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + logs.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        total += lse - logs[l];
    }
    total / probs.len() as f64
}

/// The temperature in 0.05..=20 that minimises the negative log-likelihood of `labels` under
/// `probs` (golden-section search on `ln T`; the likelihood is unimodal in it).
pub fn fit_temperature<P: AsRef<[f32]>>(probs: &[P], labels: &[usize]) -> Result<f32> {
    check_rows(probs, labels)?;
    let f = |x: f64| nll_at(probs, labels, x.exp());
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    Ok(((a + b) / 2.0).exp() as f32)
}

/// Cross-fitted temperature scaling: the rows of each fold scaled by the temperature fitted
/// on the other folds' rows, so every row's calibrated probabilities come from a temperature
/// that never saw it (what a held-out ECE needs). `folds[i]` is row `i`'s fold.
pub fn cross_fitted<P: AsRef<[f32]>>(
    probs: &[P],
    labels: &[usize],
    folds: &[usize],
) -> Result<Vec<Vec<f32>>> {
    super::metrics::check_lengths("probabilities", probs.len(), "folds", folds.len())?;
    check_rows(probs, labels)?;
    let mut ids: Vec<usize> = folds.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(Error::InvalidConfig(
            "cross-fitting needs at least two folds".into(),
        ));
    }
    let mut out: Vec<Vec<f32>> = probs.iter().map(|p| p.as_ref().to_vec()).collect();
    for k in ids {
        let (train_p, train_l): (Vec<&[f32]>, Vec<usize>) = probs
            .iter()
            .zip(labels)
            .zip(folds)
            .filter(|(_, &f)| f != k)
            .map(|((p, &l), _)| (p.as_ref(), l))
            .unzip();
        let t = fit_temperature(&train_p, &train_l)?;
        for (row, _) in out.iter_mut().zip(folds).filter(|(_, &f)| f == k) {
            apply_temperature(row, t);
        }
    }
    Ok(out)
}

/// Draws reliability diagrams side by side, one per `(title, table)`, and writes the SVG to
/// `path`: each bin's accuracy against its mean confidence (bars, with the count), the
/// diagonal of perfect calibration, and the ECE in the title.
pub fn plot_reliability(panels: &[(String, &Reliability)], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if panels.is_empty() {
        return Err(Error::InvalidConfig("no reliability tables to draw".into()));
    }
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (420 * panels.len() as u32, 440)).into_drawing_area();
        let draw = || -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
            root.fill(&WHITE)?;
            for (area, (title, rel)) in root.split_evenly((1, panels.len())).iter().zip(panels) {
                draw_panel(area, title, rel)?;
            }
            root.present()
        };
        draw().map_err(super::plot::draw_error(path))?;
    }
    super::plot::write_svg(&svg, path)
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    rel: &Reliability,
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{title}: ECE {:.3}, n {}", rel.ece, rel.n),
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("confidence")
        .y_desc("accuracy")
        .x_labels(6)
        .y_labels(6)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let blue = RGBColor(23, 70, 140);
    chart.draw_series(rel.bins.iter().filter_map(|b| {
        b.accuracy.map(|acc| {
            Rectangle::new(
                [(b.lo + 0.004, 0.0), (b.hi - 0.004, acc)],
                blue.mix(0.75).filled(),
            )
        })
    }))?;
    chart.draw_series(rel.bins.iter().filter_map(|b| {
        b.confidence
            .map(|c| Circle::new((c, c), 3, RGBColor(200, 60, 40).filled()))
    }))?;
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (1.0, 1.0)],
        RGBColor(150, 150, 150).stroke_width(1),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_calibrated_rows_have_zero_ece_and_overconfident_ones_do_not() {
        // 10 rows at 0.8 confidence, 8 right: calibrated.
        let probs: Vec<Vec<f32>> = (0..10).map(|_| vec![0.8, 0.2]).collect();
        let labels: Vec<usize> = (0..10).map(|i| usize::from(i >= 8)).collect();
        let r = Reliability::new(&probs, &labels, ECE_BINS).unwrap();
        assert!(r.ece < 1e-6, "{}", r.ece);
        assert!((r.accuracy - 0.8).abs() < 1e-9);
        assert_eq!(r.bins.iter().map(|b| b.n).sum::<usize>(), 10);
        // The same rows at 0.99: ECE 0.19.
        let sure: Vec<Vec<f32>> = (0..10).map(|_| vec![0.99, 0.01]).collect();
        let r = Reliability::new(&sure, &labels, ECE_BINS).unwrap();
        assert!((r.ece - 0.19).abs() < 1e-6, "{}", r.ece);
        // The same from (confidence, right) pairs.
        let right: Vec<bool> = labels.iter().map(|&l| l == 0).collect();
        let e = ece_of(&[0.99; 10], &right, ECE_BINS).unwrap();
        assert!((e - 0.19).abs() < 1e-6, "{e}");
        assert!(ece_of(&[], &[], ECE_BINS).is_none());
    }

    #[test]
    fn temperature_fit_softens_overconfidence_and_lowers_ece() {
        // Overconfident: 0.99 stated, 70 % right, over three classes.
        let probs: Vec<Vec<f32>> = (0..100).map(|_| vec![0.99, 0.005, 0.005]).collect();
        let labels: Vec<usize> = (0..100)
            .map(|i| if i < 70 { 0 } else { 1 + i % 2 })
            .collect();
        let t = fit_temperature(&probs, &labels).unwrap();
        assert!(t > 1.5, "{t}");
        let before = Reliability::new(&probs, &labels, ECE_BINS).unwrap();
        let after = Reliability::new(&scaled(&probs, t), &labels, ECE_BINS).unwrap();
        assert!(
            after.ece < 0.02 && before.ece > 0.25,
            "{} {}",
            before.ece,
            after.ece
        );
        assert!(after.nll < before.nll);
        assert_eq!(after.accuracy, before.accuracy);
        // Cross-fitted over two folds of the same rows: each fold's temperature is the same.
        let folds: Vec<usize> = (0..100).map(|i| i % 2).collect();
        let cf = cross_fitted(&probs, &labels, &folds).unwrap();
        let cf_rel = Reliability::new(&cf, &labels, ECE_BINS).unwrap();
        assert!(cf_rel.ece < 0.05, "{}", cf_rel.ece);
        assert!(cross_fitted(&probs, &labels, &[0; 100]).is_err());
        // Underconfident rows get a temperature below 1.
        let timid: Vec<Vec<f32>> = (0..50).map(|_| vec![0.4, 0.3, 0.3]).collect();
        assert!(fit_temperature(&timid, &[0; 50]).unwrap() < 1.0);
    }

    #[test]
    fn bad_rows_are_errors_and_the_diagram_is_drawn() {
        assert!(Reliability::new(&[vec![0.5f32, 0.5]], &[2], 15).is_err());
        assert!(Reliability::new(&[vec![f32::NAN, 0.5]], &[0], 15).is_err());
        assert!(fit_temperature::<Vec<f32>>(&[], &[]).is_err());
        let probs = vec![vec![0.9f32, 0.1], vec![0.6, 0.4], vec![0.3, 0.7]];
        let r = Reliability::new(&probs, &[0, 1, 1], ECE_BINS).unwrap();
        let path = std::env::temp_dir().join(format!("facevox-rel-{}.svg", std::process::id()));
        plot_reliability(&[("before".into(), &r), ("after".into(), &r)], &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("ECE") && svg.contains("<svg"));
        std::fs::remove_file(&path).unwrap();
    }
}
