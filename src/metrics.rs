//! The Prometheus textfile (SPEC section 4): rewritten after each pass for node_exporter's
//! textfile collector, from the store's history, so a pass that did not run this time
//! keeps its last values. Written to a temporary file beside the target and renamed over
//! it: the collector never reads half a file.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::context::Ctx;
use crate::report::{RunStatus, SyncType};
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pass {
    pass: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Records {
    pass: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Requests {
    pass: String,
    remote: String,
}

type Seconds = Family<Pass, Gauge<f64, AtomicU64>>;

/// Where the metrics go: `--metrics-file`, else `[metrics] textfile`, else nowhere.
pub fn target(ctx: &Ctx) -> Option<PathBuf> {
    ctx.opts
        .metrics_file
        .clone()
        .or_else(|| ctx.config.metrics.textfile.clone())
}

/// Rewrites the metrics file, if one is configured. A dry run changes nothing a scrape
/// should see, so it writes none. A failure is logged, never the run's: the sync
/// itself went as it went.
pub fn after_pass(ctx: &Ctx) {
    if ctx.dry_run() {
        return;
    }
    let Some(path) = target(ctx) else { return };
    if let Err(e) = write(&ctx.store, &path) {
        tracing::warn!(
            "metrics file {} not written: {e:#}; check that its directory exists and is \
             writable by this user",
            path.display()
        );
    }
}

/// The textfile's content, from the store.
pub fn render(store: &Store) -> anyhow::Result<String> {
    let mut registry = Registry::default();
    let last_run = Seconds::default();
    let last_success = Seconds::default();
    let duration = Seconds::default();
    let exit_code = Family::<Pass, Gauge>::default();
    let records = Family::<Records, Gauge>::default();
    let requests = Family::<Requests, Gauge>::default();
    let pending = Gauge::<i64>::default();
    let unknown = Gauge::<i64>::default();

    for &t in SyncType::ALL {
        let pass = || Pass {
            pass: t.as_str().to_string(),
        };
        // The newest run that ended; one left `running` by a dead process is closed
        // by the next run that takes the lock, and counts from then.
        let Some(run) = store
            .runs(10, Some(t))?
            .into_iter()
            .find(|r| r.status != RunStatus::Running && r.finished_at.is_some())
        else {
            continue;
        };
        let finished = seconds(run.finished_at.as_deref().unwrap_or(&run.started_at))?;
        last_run.get_or_create(&pass()).set(finished);
        duration
            .get_or_create(&pass())
            .set((finished - seconds(&run.started_at)?).max(0.0));
        if let Some(code) = run.extra.exit_code {
            exit_code.get_or_create(&pass()).set(i64::from(code));
        }
        if let Some(ok) = store.last_success_finished(t)? {
            last_success.get_or_create(&pass()).set(seconds(&ok)?);
        }
        for (outcome, n) in [
            ("created", run.created),
            ("updated", run.updated),
            ("skipped", run.skipped),
            ("failed", run.failed),
        ] {
            let labels = Records {
                pass: t.as_str().into(),
                outcome: outcome.into(),
            };
            records.get_or_create(&labels).set(n as i64);
        }
        for (remote, n) in [("katana", run.requests.katana), ("luca", run.requests.luca)] {
            let labels = Requests {
                pass: t.as_str().into(),
                remote: remote.into(),
            };
            requests.get_or_create(&labels).set(n as i64);
        }
    }
    pending.set(store.pending_adjustments()? as i64);
    unknown.set(store.unknown_outcomes()? as i64);

    registry.register(
        "katana_sync_last_run_timestamp_seconds",
        "When the pass last ended (Unix time)",
        last_run,
    );
    registry.register(
        "katana_sync_last_success_timestamp_seconds",
        "When the pass last ended with every record synced (Unix time)",
        last_success,
    );
    registry.register(
        "katana_sync_last_run_duration_seconds",
        "How long the pass's last run took",
        duration,
    );
    registry.register(
        "katana_sync_last_run_exit_code",
        "The exit code of the pass's last run (SPEC section 3)",
        exit_code,
    );
    registry.register(
        "katana_sync_last_run_records",
        "Records of the pass's last run, per outcome",
        records,
    );
    registry.register(
        "katana_sync_last_run_requests",
        "HTTP requests of the pass's last run, per remote (retries and 429s included)",
        requests,
    );
    registry.register(
        "katana_sync_pending_adjustments",
        "Stock adjustments waiting for approval",
        pending,
    );
    registry.register(
        "katana_sync_unknown_outcomes",
        "Luca creates whose outcome is unknown (looked up, or resolved by hand, before any resend)",
        unknown,
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// Writes the metrics to `path` atomically: a temporary file in the same directory
/// (a rename is atomic only within one file system), flushed, then renamed over it.
pub fn write(store: &Store, path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = render(store)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".katana-sync-metrics")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // node_exporter runs as its own user: the file must be readable by it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming over {}", path.display()))?;
    Ok(())
}

fn seconds(ts: &str) -> anyhow::Result<f64> {
    let t: jiff::Timestamp = ts
        .parse()
        .with_context(|| format!("history holds the time {ts:?}, not RFC 3339"))?;
    Ok(t.as_millisecond() as f64 / 1000.0)
}
