//! A TCP listener whose connections a request handler can cut.
//!
//! The fault modes `reset` and `lost` need the client to see a broken connection rather
//! than an HTTP answer. A handler cannot reach the socket through axum, so every accepted
//! stream is wrapped with a shared [`ConnHandle`] (handed to handlers as `ConnectInfo`).
//! Once a handler calls [`ConnHandle::cut`], the next read or write on the stream fails
//! and the socket is closed with `SO_LINGER = 0`, which makes the kernel send a TCP RST:
//! the client sees "connection reset" and never a status line.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Handle on one accepted connection, shared between the stream and the handlers.
#[derive(Clone, Debug, Default)]
pub struct ConnHandle {
    cut: Arc<AtomicBool>,
}

impl ConnHandle {
    /// Drops the connection: whatever response the handler returns is never written.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// The sandbox's listener: a plain TCP listener whose streams can be cut.
pub struct CuttableListener {
    inner: TcpListener,
}

impl CuttableListener {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small request/response pairs: do not let Nagle delay them.
                    let _ = stream.set_nodelay(true);
                    let io = CuttableStream {
                        inner: stream,
                        handle: ConnHandle::default(),
                        lingered: false,
                    };
                    return (io, addr);
                }
                // Out of file descriptors and the like: back off briefly, as axum's own
                // TcpListener impl does, instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.io().handle.clone()
    }
}

/// A TCP stream that fails every operation once its [`ConnHandle`] was cut.
pub struct CuttableStream {
    inner: TcpStream,
    handle: ConnHandle,
    lingered: bool,
}

impl CuttableStream {
    /// Returns the error to report once the connection is cut, arming the abortive close.
    fn check(&mut self) -> io::Result<()> {
        if !self.handle.is_cut() {
            return Ok(());
        }
        if !self.lingered {
            self.lingered = true;
            // A zero linger makes close() send RST at once (and never blocks, which is
            // what the deprecation warns about for non-zero values).
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(Duration::ZERO));
        }
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "sandbox fault: connection cut",
        ))
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
