//! Client sockets: WebSocket connections from a rotating set of loopback source addresses (each
//! 127.0.0.x has its own ephemeral ports, so thousands of connections per second do not run out
//! of ports to TIME_WAIT), small client buffers, frame helpers and a per-connection pacer that
//! keeps a client under the server's frame limit.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A client WebSocket.
pub type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Microseconds since the process's time base, the clock every latency is measured in.
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// How client sockets are opened.
#[derive(Clone)]
pub struct Net {
    /// Source addresses 127.0.0.(2 + offset) … 127.0.0.(1 + offset + count); 0 = let the
    /// kernel choose (127.0.0.1).
    count: u32,
    offset: u32,
    next: Arc<AtomicU32>,
}

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP connect (or bind) failed.
    Tcp(std::io::Error),
    /// The WebSocket handshake failed (e.g. an HTTP error instead of 101).
    Handshake(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(e) => write!(f, "tcp: {e}"),
            Self::Handshake(e) => write!(f, "handshake: {e}"),
        }
    }
}

impl Net {
    pub fn new(count: u32, offset: u32) -> Self {
        Self { count: count.min(250 - offset.min(250)), offset, next: Arc::new(AtomicU32::new(0)) }
    }

    fn source(&self) -> Option<SocketAddr> {
        if self.count == 0 {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
        let last = u8::try_from(2 + self.offset + k).unwrap_or(254);
        Some(SocketAddr::new(Ipv4Addr::new(127, 0, 0, last).into(), 0))
    }

    /// Opens a WebSocket to `url` (`ws://host:port/path?query`).
    pub async fn connect(&self, url: &str) -> Result<Ws, ConnectError> {
        let authority = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| ConnectError::Handshake(format!("not a ws:// url: {url}")))?;
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(ConnectError::Tcp)?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| ConnectError::Handshake(format!("no IPv4 address for {authority}")))?;
        let socket = TcpSocket::new_v4().map_err(ConnectError::Tcp)?;
        if let Some(source) = self.source() {
            socket.bind(source).map_err(ConnectError::Tcp)?;
        }
        let stream = socket.connect(addr).await.map_err(ConnectError::Tcp)?;
        stream.set_nodelay(true).map_err(ConnectError::Tcp)?;
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .map_err(|e| ConnectError::Handshake(e.to_string()))?;
        Ok(ws)
    }
}

/// Sends one text frame.
pub async fn send(ws: &mut Ws, text: impl Into<String>) -> Result<(), String> {
    ws.send(Message::text(text.into())).await.map_err(|e| e.to_string())
}

/// The next text frame within `limit` (control frames are answered by tungstenite and skipped).
pub async fn next_text(ws: &mut Ws, limit: Duration) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err(format!("no frame within {limit:?}")),
            Ok(None) => return Err("connection ended".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.as_str().to_owned()),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed by the server: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A client-side GCRA pacer: at most `rate` frames per second with bursts of `burst`, so a
/// connection never trips the server's per-connection frame limit. `rate` 0 disables it.
pub struct Pacer {
    interval: Duration,
    tolerance: Duration,
    tat: Instant,
}

impl Pacer {
    pub fn new(rate: f64, burst: u32) -> Self {
        let interval = if rate > 0.0 { Duration::from_secs_f64(1.0 / rate) } else { Duration::ZERO };
        Self { interval, tolerance: interval * burst.saturating_sub(1), tat: Instant::now() }
    }

    /// Waits until one more frame may be sent, and takes it.
    pub async fn wait(&mut self) {
        if self.interval.is_zero() {
            return;
        }
        let now = Instant::now();
        let earliest = self.tat.checked_sub(self.tolerance).unwrap_or(now);
        if earliest > now {
            tokio::time::sleep_until(earliest.into()).await;
        }
        self.tat = self.tat.max(Instant::now()) + self.interval;
    }
}

/// Parses the `k<step>_<micros>_…` stamp that follows `marker` in a frame.
pub fn stamp_after(text: &str, marker: &str) -> Option<(usize, u64)> {
    let at = text.find(marker)? + marker.len();
    let rest = &text[at..];
    let (step, rest) = rest.split_once('_')?;
    let micros = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((step.parse().ok()?, micros.parse().ok()?))
}

/// A stamp: `k<step>_<micros>_<conn>_<n>` (valid as a Kefu client id).
pub fn stamp(step: usize, conn: usize, n: u64) -> String {
    format!("k{step}_{}_{conn}_{n}", now_us())
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_round_trip() {
        let s = super::stamp(3, 17, 5);
        let frame = format!(r#"{{"type":"ack","client_id":"{s}","seq":2}}"#);
        let (step, micros) = super::stamp_after(&frame, "\"client_id\":\"k").expect("stamp");
        assert_eq!(step, 3);
        assert!(micros <= super::now_us());
    }
}
