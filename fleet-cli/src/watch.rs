//! `truk fleet watch`: inspect's view refreshed every interval, with the members (pid,
//! program, uptime), changed values highlighted and channel message rates. A terminal UI
//! (ratatui) quit with `q`; with `--count N`, N plain snapshots for scripts and tests,
//! changed lines marked with `*`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use crate::inspect::{chan_counters, region_title, snapshots, var_lines, Snapshot};
use crate::value::SHOWN;
use crate::Output;

/// One line of the view, and whether it changed since the last refresh.
struct Row {
    text: String,
    changed: bool,
}

/// What the previous refresh saw: each keyed line's text and each channel's counter.
#[derive(Default)]
struct Seen {
    lines: HashMap<String, String>,
    sent: HashMap<String, u64>,
    at: Option<Instant>,
}

/// Seconds since boot, and clock ticks per second (a member's start time is in ticks).
fn boot_clock() -> (f64, f64) {
    let up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (up, hz)
}

fn uptime(start_ticks: u64, clock: (f64, f64)) -> String {
    let s = (clock.0 - start_ticks as f64 / clock.1).max(0.0) as u64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// The rows of one refresh, compared with (and then recorded in) `seen`.
fn rows(ns: Option<&str>, prefix: Option<&str>, seen: &mut Seen) -> Result<Vec<Row>, String> {
    let now = Instant::now();
    let secs = seen.at.map(|t| now.duration_since(t).as_secs_f64());
    let clock = boot_clock();
    let mut out = vec![];
    let mut next = Seen { at: Some(now), ..Seen::default() };
    let plain = |text: String| Row { text, changed: false };
    let snaps = snapshots(ns, prefix)?;
    if snaps.is_empty() {
        out.push(plain("no fleet regions".into()));
    }
    for s in &snaps {
        let s: &Snapshot = match s {
            Ok(s) => s,
            Err((path, why)) => {
                out.push(plain(format!("{}: {why}", path.display())));
                continue;
            }
        };
        out.push(plain(region_title(s)));
        out.push(plain(format!("  {} members", s.info.members.len())));
        for m in &s.info.members {
            // Members of the fleets shown only: nothing of other namespaces is read.
            let exe = std::fs::read_link(format!("/proc/{}/exe", m.pid))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            out.push(plain(format!("    pid {:<8} slot {:<5} up {:<8} {exe}", m.pid, m.slot, uptime(m.start_time, clock))));
        }
        let fp = truk_runtime::layout::hex(&s.info.header.build_fp);
        let rates: HashMap<String, u64> = chan_counters(s).into_iter().collect();
        for (line, v) in var_lines(s, Some(SHOWN)).into_iter().zip(&s.vars) {
            let key = format!("{fp}/{}/{}", s.info.name.ns, v.name);
            let mut text = format!("  {line}");
            if let Some(&sent) = rates.get(&v.name) {
                if let (Some(&before), Some(secs)) = (seen.sent.get(&key), secs) {
                    let rate = sent.saturating_sub(before) as f64 / secs.max(1e-3);
                    text.push_str(&format!("  ({rate:.1} msg/s)"));
                }
                next.sent.insert(key.clone(), sent);
            }
            let changed = seen.lines.get(&key).is_some_and(|old| *old != line);
            next.lines.insert(key.clone(), line);
            out.push(Row { text, changed });
        }
    }
    *seen = next;
    Ok(out)
}

/// `truk fleet watch [--ns NS] [--interval MS] [--count N] [FP-PREFIX]`.
pub fn watch(ns: Option<&str>, prefix: Option<&str>, interval_ms: u64, count: Option<u64>) -> Result<Output, String> {
    let interval = Duration::from_millis(interval_ms);
    let mut seen = Seen::default();
    if let Some(n) = count {
        let mut text = String::new();
        for i in 0..n {
            if i > 0 {
                std::thread::sleep(interval);
            }
            text.push_str(&format!("== snapshot {} of {n}\n", i + 1));
            for r in rows(ns, prefix, &mut seen)? {
                text.push_str(if r.changed { "*" } else { " " });
                text.push_str(&r.text);
                text.push('\n');
            }
        }
        return Ok(text.into());
    }
    // SAFETY: isatty has no preconditions.
    if unsafe { libc::isatty(1) } != 1 {
        return Err("fleet: watch needs a terminal (--count N prints plain snapshots)".into());
    }
    rows(ns, prefix, &mut seen)?; // checks the arguments before the screen changes
    let mut term = ratatui::init();
    let r = tui(&mut term, ns, prefix, interval, &mut seen);
    ratatui::restore();
    r.map(|()| String::new().into())
}

fn tui(
    term: &mut ratatui::DefaultTerminal,
    ns: Option<&str>,
    prefix: Option<&str>,
    interval: Duration,
    seen: &mut Seen,
) -> Result<(), String> {
    let title = format!(" truk fleet watch: every {} ms, q quits ", interval.as_millis());
    loop {
        let rows = rows(ns, prefix, seen)?;
        let lines: Vec<Line> = rows
            .iter()
            .map(|r| {
                let style = match r.changed {
                    true => Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                    false => Style::default(),
                };
                Line::styled(r.text.clone(), style)
            })
            .collect();
        term.draw(|f| f.render_widget(Paragraph::new(lines).block(Block::bordered().title(title.as_str())), f.area()))
            .map_err(|e| format!("fleet: cannot draw: {e}"))?;
        let until = Instant::now() + interval;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if !event::poll(left).map_err(|e| format!("fleet: {e}"))? {
                break;
            }
            if let Event::Key(k) = event::read().map_err(|e| format!("fleet: {e}"))? {
                let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c {
                    return Ok(());
                }
            }
        }
    }
}
