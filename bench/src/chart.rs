//! The chart: one small horizontal bar panel per figure, RootResume beside its comparison, with
//! the target as a dashed line. Plain SVG written by hand, so it needs no plotting library.

use std::fmt::Write;

use crate::report::Results;
use crate::stats::Summary;

/// One bar.
struct Bar {
    label: String,
    value: f64,
    ours: bool,
}

/// One figure.
struct Panel {
    title: &'static str,
    unit: &'static str,
    bars: Vec<Bar>,
    target: Option<f64>,
}

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 190.0;
const BAR_H: f64 = 18.0;
const GAP: f64 = 6.0;
const TITLE_H: f64 = 26.0;
const PANEL_PAD: f64 = 14.0;

fn bar(label: &str, value: f64, ours: bool) -> Bar {
    Bar {
        label: label.to_owned(),
        value,
        ours,
    }
}

fn panels(r: &Results) -> Vec<Panel> {
    let warm = Summary::of(&r.warm.total);
    let cold = Summary::of(&r.cold.total);
    let bare = Summary::of(&r.bare.total);
    let mut list = vec![Panel {
        title: "Time to prompt, p50 (lower is better)",
        unit: "ms",
        bars: vec![
            bar("RootResume warm", warm.p50, true),
            bar("RootResume cold", cold.p50, true),
            bar("bare engine", bare.p50, false),
        ],
        target: Some(30.0),
    }];
    if let Some(ours) = r.echo_at(50) {
        let mut bars = vec![bar("RootResume", ours.p99, true)];
        if let Some(peer) = r.peer_echo_at(50) {
            bars.push(bar("terminado", peer.p99, false));
        }
        list.push(Panel {
            title: "Echo p99, 50 live sessions (lower is better)",
            unit: "ms",
            bars,
            target: Some(5.0),
        });
    }
    let mut bars = vec![
        bar("RootResume", r.throughput.mb_per_s(), true),
        bar("bare engine attach", r.bare_throughput.mb_per_s(), false),
        bar(
            "command alone in a sandbox",
            r.command_throughput.mb_per_s(),
            false,
        ),
        bar("pty in a sandbox", r.pty_throughput.mb_per_s(), false),
    ];
    if let Some(peer) = r.peer_throughput {
        bars.push(bar("terminado", peer.mb_per_s(), false));
    }
    list.push(Panel {
        title: "Output throughput (higher is better)",
        unit: "MB/s",
        bars,
        target: Some(r.pty_throughput.mb_per_s() * 0.9),
    });
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let own = |p: &crate::memory::Accounted<f64>| mib(p.cgroups + p.shims + p.server);
    list.push(Panel {
        title: "Memory per idle session: shim + container + server (lower is better)",
        unit: "MiB",
        bars: vec![
            bar("RootResume", own(&r.climb.memory.parts), true),
            bar("bare containers", own(&r.bare_memory.parts), false),
        ],
        target: Some(own(&r.bare_memory.parts) * 1.05),
    });
    list.push(Panel {
        title: "Concurrent sessions with echo p99 < 50 ms (higher is better)",
        unit: "sessions",
        bars: vec![bar("RootResume", r.climb.capacity_ok as f64, true)],
        target: Some(500.0),
    });
    if let Ok(load) = &r.first_load {
        list.push(Panel {
            title: "First-load transfer, as sent (lower is better)",
            unit: "KB",
            bars: vec![bar("home page", load.sent_kib * 1.024, true)],
            target: Some(200.0),
        });
    }
    list
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart of `results` as an SVG document.
pub fn svg(results: &Results) -> String {
    let panels = panels(results);
    let height: f64 = panels
        .iter()
        .map(|p| TITLE_H + p.bars.len() as f64 * (BAR_H + GAP) + PANEL_PAD)
        .sum::<f64>()
        + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let mut y = 10.0;
    let plot_w = WIDTH - LABEL_W - 90.0;
    for panel in &panels {
        let target_note = panel.target.map_or(String::new(), |t| {
            format!(" — target {t:.1} {} (dashed)", panel.unit)
        });
        let _ = writeln!(
            out,
            r##"<text x="10" y="{}" fill="#222"><tspan font-weight="bold">{}</tspan><tspan fill="#c62828">{}</tspan></text>"##,
            y + 16.0,
            escape(panel.title),
            escape(&target_note)
        );
        y += TITLE_H;
        let top = y;
        let max = panel
            .bars
            .iter()
            .map(|b| b.value)
            .chain(panel.target)
            .fold(0.0_f64, f64::max)
            .max(1e-9)
            * 1.1;
        for b in &panel.bars {
            let w = (b.value.max(0.0) / max * plot_w).max(1.0);
            let colour = if b.ours { "#2e7d32" } else { "#8d939c" };
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#333">{}</text><rect x="{LABEL_W}" y="{y}" width="{w:.1}" height="{BAR_H}" fill="{colour}"/><text x="{:.1}" y="{}" fill="#333">{:.1} {}</text>"##,
                LABEL_W - 8.0,
                y + 13.0,
                escape(&b.label),
                LABEL_W + w + 6.0,
                y + 13.0,
                b.value,
                panel.unit
            );
            y += BAR_H + GAP;
        }
        if let Some(target) = panel.target {
            let x = LABEL_W + target / max * plot_w;
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#c62828" stroke-dasharray="4 3"/>"##,
                top - 2.0,
                y - GAP + 2.0
            );
        }
        y += PANEL_PAD;
    }
    out.push_str("</svg>\n");
    out
}
