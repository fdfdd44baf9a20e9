//! `katana-sync sandbox serve`: the simulator alone, for demos and for tests driven from
//! another process.

use std::future::Future;
use std::io::Write;

use super::{Sandbox, SandboxOptions};

/// Serves until Ctrl-C or SIGTERM. The first two lines on stdout are
/// `katana: http://ADDR/v1` and `luca: http://ADDR/Yetki`, flushed at once, so a parent
/// process can read the URLs (with the real port when `--addr` ends in `:0`).
pub async fn serve(opts: SandboxOptions, addr: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    serve_with(opts, addr, &mut stdout, stop_signal()).await
}

/// [`serve`] with the output and the stop signal supplied by the caller.
pub async fn serve_with(
    opts: SandboxOptions,
    addr: &str,
    out: &mut (dyn Write + Send),
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let addr_problem = |problem: String| {
        crate::error::Error::config(format!(
            "--addr {}: {problem}; choose another address, e.g. --addr 127.0.0.1:0 for a free port",
            addr
        ))
    };
    if let Err(e) = tokio::net::lookup_host(addr).await {
        return Err(addr_problem(format!("not an address to listen on ({e})")).into());
    }
    let (katana_key, org_code, user) = (
        opts.katana_key.clone(),
        opts.luca_org_code.clone(),
        opts.luca_user.clone(),
    );
    let sandbox = Sandbox::start(opts, addr).await.map_err(|e| {
        // A flag that names a busy or foreign address is a bad flag (78), not a bug.
        let socket = e.chain().find_map(|c| {
            c.downcast_ref::<std::io::Error>().filter(|io| {
                matches!(
                    io.kind(),
                    std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable
                )
            })
        });
        match socket {
            Some(io) if io.kind() == std::io::ErrorKind::AddrInUse => {
                addr_problem("the address is already in use (another program listens there)".into())
                    .into()
            }
            Some(io) => addr_problem(format!("not an address of this machine ({io})")).into(),
            None => e,
        }
    })?;
    writeln!(out, "katana: {}", sandbox.katana_url())?;
    writeln!(out, "luca: {}", sandbox.luca_url())?;
    out.flush()?;
    eprintln!(
        "sandbox: Katana key {:?}, Luca login orgCode {:?} userName {:?}; stats at http://{}/_sandbox/stats; Ctrl-C stops",
        katana_key,
        org_code,
        user,
        sandbox.addr()
    );
    stop.await;
    sandbox.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
