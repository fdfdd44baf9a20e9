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
    let format = log_format(
        opts.log_format,
        std::env::var_os("JOURNAL_STREAM").is_some(),
    );
    let mode = if opts.quiet > 0 {
        Mode::Silent
    } else if !opts.no_progress && format == Format::Text && std::io::stderr().is_terminal() {
        Mode::Bars
    } else {
        Mode::LogLines
    };
    let result = match format {
        Format::Text if mode == Mode::Bars => {
            let fmt = tracing_subscriber::fmt::layer().with_target(false);
            let bars = IndicatifLayer::new()
                .with_span_field_formatter(hide_indicatif_span_fields(DefaultFields::new()));
            tracing_subscriber::registry()
                .with(
                    fmt.with_writer(bars.get_stderr_writer())
                        .with_filter(filter),
                )
                .with(bars.with_filter(IndicatifFilter::new(false)))
                .try_init()
        }
        Format::Text => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(filter),
            )
            .try_init(),
        Format::Journald => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(Journald)
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(filter),
            )
            .try_init(),
        Format::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_target(false)
                    .with_current_span(false)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
    // A second init (tests calling into the library) keeps the first subscriber.
    let _ = result;
    mode
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people: time, level, message.
    Text,
    /// For the journal (stderr is a journal stream): no time (the journal stamps each
    /// line), the level as a `<N>` syslog priority prefix that journald reads.
    Journald,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `--log-format json` wins; else text, which becomes journald's when the process runs
/// under systemd with its stderr connected to the journal (`JOURNAL_STREAM` set).
pub fn log_format(flag: crate::cli::LogFormat, journal_stream: bool) -> Format {
    match (flag, journal_stream) {
        (crate::cli::LogFormat::Json, _) => Format::Json,
        (crate::cli::LogFormat::Text, true) => Format::Journald,
        (crate::cli::LogFormat::Text, false) => Format::Text,
    }
}

/// The syslog priority of a level (sd-daemon(3): `<3>` error ... `<7>` debug).
fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

struct Journald;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Journald
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::LogFormat;

    #[test]
    fn the_journal_gets_priorities_and_json_wins() {
        assert_eq!(log_format(LogFormat::Text, false), Format::Text);
        assert_eq!(log_format(LogFormat::Text, true), Format::Journald);
        assert_eq!(log_format(LogFormat::Json, true), Format::Json);
        assert_eq!(priority(tracing::Level::ERROR), 3);
        assert_eq!(priority(tracing::Level::WARN), 4);
        assert_eq!(priority(tracing::Level::INFO), 6);
    }
}
