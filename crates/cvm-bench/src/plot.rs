//! SVG plots of accuracy over experiences (mean over seeds of the average accuracy on experiences seen).

use std::path::Path;

use plotters::prelude::*;

use crate::cl::{Method, RunResult, Student};

/// One plot per protocol × student × dataset × memory budget; the methods without memory appear in every plot
/// of their protocol and dataset.
pub fn accuracy_curves(results: &[RunResult], dir: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut groups: Vec<(&str, Student, &str, usize)> = Vec::new();
    for r in results.iter().filter(|r| r.method.uses_memory()) {
        let key = (r.protocol.as_str(), r.student, r.dataset.as_str(), r.memory);
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (protocol, student, dataset, memory) in groups {
        let runs: Vec<&RunResult> = results
            .iter()
            .filter(|r| {
                r.protocol == protocol
                    && r.student == student
                    && r.dataset == dataset
                    && (!r.method.uses_memory() || r.memory == memory)
            })
            .collect();
        let student_tag = if student == Student::Adapter { "-adapter" } else { "" };
        let path = dir.join(format!("{protocol}{student_tag}-{dataset}-memory{memory}.svg"));
        let title = format!("{protocol}{student_tag}, {dataset}, memory {memory}: average accuracy on classes seen");
        draw(&runs, &title, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

fn curve(runs: &[&RunResult]) -> Vec<(f64, f64)> {
    let t = runs[0].matrix.len();
    (0..t)
        .map(|i| {
            let mean = runs.iter().map(|r| r.matrix[i][..=i].iter().sum::<f64>() / (i + 1) as f64).sum::<f64>()
                / runs.len() as f64;
            ((i + 1) as f64, 100.0 * mean)
        })
        .collect()
}

fn draw(results: &[&RunResult], title: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let experiences = results.iter().map(|r| r.matrix.len()).max().unwrap_or(1) as f64;
    let root = SVGBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.8f64..experiences + 0.2, 0f64..100f64)?;
    chart.configure_mesh().x_desc("experience").y_desc("accuracy (%)").x_labels(experiences as usize).draw()?;
    let palette = [
        RED,
        BLUE,
        GREEN,
        MAGENTA,
        BLACK,
        CYAN,
        RGBColor(230, 140, 0),
        RGBColor(120, 60, 160),
        RGBColor(120, 120, 120),
    ];
    for (k, method) in Method::ALL.iter().enumerate() {
        let runs: Vec<&RunResult> = results.iter().copied().filter(|r| r.method == *method).collect();
        if runs.is_empty() {
            continue;
        }
        let color = palette[k % palette.len()];
        let points = if *method == Method::Joint {
            let acc = runs.iter().map(|r| r.acc).sum::<f64>() / runs.len() as f64 * 100.0;
            vec![(1.0, acc), (experiences, acc)]
        } else {
            curve(&runs)
        };
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(method.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}
