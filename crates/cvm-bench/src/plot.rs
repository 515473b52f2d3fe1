//! SVG plots of accuracy over experiences (mean over seeds of the average accuracy on experiences seen).

use std::path::Path;

use plotters::prelude::*;

use crate::cl::{Method, RunResult};

/// One plot per dataset × memory budget; fine-tune and joint appear in every plot of their dataset.
pub fn accuracy_curves(results: &[RunResult], dir: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut datasets: Vec<&str> = results.iter().map(|r| r.dataset.as_str()).collect();
    datasets.dedup();
    let mut memories: Vec<usize> = results.iter().filter(|r| r.method.uses_memory()).map(|r| r.memory).collect();
    memories.sort_unstable();
    memories.dedup();
    for dataset in datasets {
        for &memory in &memories {
            let path = dir.join(format!("{dataset}-memory{memory}.svg"));
            draw(results, dataset, memory, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path.display().to_string());
        }
    }
    Ok(written)
}

fn curve(runs: &[&RunResult]) -> Vec<(f64, f64)> {
    let t = runs[0].matrix.len();
    (0..t)
        .map(|i| {
            let mean = runs.iter().map(|r| r.matrix[i][..=i].iter().sum::<f64>() / (i + 1) as f64).sum::<f64>() / runs.len() as f64;
            ((i + 1) as f64, 100.0 * mean)
        })
        .collect()
}

fn draw(results: &[RunResult], dataset: &str, memory: usize, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{dataset}, memory {memory}: average accuracy on classes seen"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.8f64..5.2f64, 0f64..100f64)?;
    chart.configure_mesh().x_desc("experience").y_desc("accuracy (%)").x_labels(5).draw()?;
    let palette = [RED, BLUE, GREEN, MAGENTA, BLACK];
    for (k, method) in Method::ALL.iter().enumerate() {
        let runs: Vec<&RunResult> = results
            .iter()
            .filter(|r| r.dataset == dataset && r.method == *method && (!method.uses_memory() || r.memory == memory))
            .collect();
        if runs.is_empty() {
            continue;
        }
        let color = palette[k % palette.len()];
        let points = if *method == Method::Joint {
            let acc = runs.iter().map(|r| r.acc).sum::<f64>() / runs.len() as f64 * 100.0;
            vec![(1.0, acc), (5.0, acc)]
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
