//! Logs and progress. Logs go to stderr through `tracing`; stdout carries results only.
//! On a terminal, long work shows a progress bar (tracing-indicatif, so log lines never
//! tear the bar); elsewhere (cron, systemd, CI) the same progress becomes a log line
//! every few seconds; with `-q` there is none.

use std::cell::Cell;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::ProgressStyle;
use tracing::Span;
use tracing_indicatif::IndicatifLayer;
use tracing_indicatif::filter::{IndicatifFilter, hide_indicatif_span_fields};
use tracing_indicatif::span_ext::IndicatifSpanExt as _;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::cli::GlobalOpts;

/// How a run reports progress; decided once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    LogLines,
    Silent,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

/// Targets that would print credentials at some level.
const SILENCED: [&str; 2] = ["cookie_store=off", "reqwest::cookie=off"];

/// Sets up logging for the process and returns the progress mode.
pub fn init(opts: &GlobalOpts) -> Mode {
    let filter = match std::env::var("KATANA_SYNC_LOG") {
        Ok(f) if !f.trim().is_empty() => EnvFilter::new(f),
        _ => EnvFilter::new(match (opts.quiet, opts.verbose) {
            (q, _) if q >= 2 => "error",
            (1, _) => "warn",
            (_, 0) => "warn,katana_sync=info",
            (_, 1) => "warn,katana_sync=debug",
            _ => "info,katana_sync=trace",
        }),
    };
    // Whatever the filter asks for: the cookie jar logs whole Set-Cookie headers (the
    // Luca session id is a credential), so it never logs at all.
    let filter = SILENCED.iter().fold(filter, |f, d| {
        f.add_directive(d.parse().expect("valid directive"))
    });
    let mode = if opts.quiet > 0 {
        Mode::Silent
    } else if !opts.no_progress && std::io::stderr().is_terminal() {
        Mode::Bars
    } else {
        Mode::LogLines
    };
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let result = if mode == Mode::Bars {
        let bars = IndicatifLayer::new()
            .with_span_field_formatter(hide_indicatif_span_fields(DefaultFields::new()));
        tracing_subscriber::registry()
            .with(
                fmt.with_writer(bars.get_stderr_writer())
                    .with_filter(filter),
            )
            .with(bars.with_filter(IndicatifFilter::new(false)))
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(
                fmt.with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(filter),
            )
            .try_init()
    };
    // A second init (tests calling into the library) keeps the first subscriber.
    let _ = result;
    mode
}

/// The progress of one piece of long work (a pull, a push).
pub struct Progress {
    mode: Mode,
    span: Span,
    label: String,
    total: Cell<Option<u64>>,
    done: Cell<u64>,
    started: Instant,
    last_log: Cell<Instant>,
}

impl Progress {
    pub fn new(mode: Mode, label: &str, total: Option<u64>) -> Progress {
        let span = if mode == Mode::Bars {
            let span = tracing::info_span!("progress", indicatif.pb_show = tracing::field::Empty);
            let template = if total.is_some() {
                "{span_child_prefix}{msg:<24} {wide_bar} {pos}/{len} {per_sec} eta {eta}"
            } else {
                "{span_child_prefix}{spinner} {msg:<24} {pos} {per_sec}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                span.pb_set_style(&style);
            }
            if let Some(n) = total {
                span.pb_set_length(n);
            }
            span.pb_set_message(label);
            span.pb_start();
            span
        } else {
            Span::none()
        };
        Progress {
            mode,
            span,
            label: label.to_string(),
            total: Cell::new(total),
            done: Cell::new(0),
            started: Instant::now(),
            last_log: Cell::new(Instant::now()),
        }
    }

    pub fn set_total(&self, total: u64) {
        self.total.set(Some(total));
        if self.mode == Mode::Bars {
            self.span.pb_set_length(total);
        }
    }

    pub fn inc(&self, n: u64) {
        self.done.set(self.done.get() + n);
        match self.mode {
            Mode::Bars => self.span.pb_inc(n),
            Mode::LogLines if self.last_log.get().elapsed() >= LOG_EVERY => {
                self.last_log.set(Instant::now());
                self.log_line();
            }
            _ => {}
        }
    }

    fn log_line(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.done.get() as f64 / secs;
        match self.total.get() {
            Some(total) => tracing::info!(
                "{}: {}/{} ({rate:.1}/s)",
                self.label,
                self.done.get(),
                total
            ),
            None => tracing::info!("{}: {} ({rate:.1}/s)", self.label, self.done.get()),
        }
    }
}
