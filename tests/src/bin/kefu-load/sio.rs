//! A minimal Socket.IO v5 client over Engine.IO v4 on WebSocket, enough to drive the baseline
//! relay (`infra/bench/socketio/server.mjs`) with the same load as Kefu:
//! connect to `/socket.io/?EIO=4&transport=websocket`; the server sends the open packet
//! `0{…}`; the client connects the main namespace with `40` and the server answers `40{…}`;
//! events are `42["name",…]`, with an ack id `42<id>[…]` answered by `43<id>[…]`; the server's
//! ping `2` is answered with `3`.

use crate::kefu::SETUP_WAIT;
use crate::net::{Net, Ws, next_text, send};

/// `http://host:port` → the relay's WebSocket URL.
pub fn url(base: &str) -> String {
    format!("{}/socket.io/?EIO=4&transport=websocket", base.trim_end_matches('/').replacen("http://", "ws://", 1))
}

/// Opens a Socket.IO connection to the main namespace.
pub async fn connect(net: &Net, base: &str) -> Result<Ws, String> {
    let mut ws = net.connect(&url(base)).await.map_err(|e| e.to_string())?;
    let open = next_text(&mut ws, SETUP_WAIT).await?;
    if !open.starts_with('0') {
        return Err(format!("expected the Engine.IO open packet, got {open}"));
    }
    send(&mut ws, "40").await?;
    loop {
        let text = next_text(&mut ws, SETUP_WAIT).await?;
        match text.as_str() {
            "2" => send(&mut ws, "3").await?,
            t if t.starts_with("40") => return Ok(ws),
            t if t.starts_with("44") => return Err(format!("namespace refused: {t}")),
            _ => {}
        }
    }
}

/// Joins `room` (the relay's `join` event with an ack) and waits for the ack.
pub async fn join(ws: &mut Ws, room: &str) -> Result<(), String> {
    send(ws, format!(r#"421["join","{room}"]"#)).await?;
    loop {
        let text = next_text(ws, SETUP_WAIT).await?;
        match text.as_str() {
            "2" => send(ws, "3").await?,
            t if t.starts_with("431") => return Ok(()),
            _ => {}
        }
    }
}

/// The relay event carrying a stamped payload to the rest of `room`.
pub fn message(room: &str, stamp: &str) -> String {
    format!(r#"42["msg","{room}","{stamp} load test message 负载测试"]"#)
}

/// The marker that precedes the stamp in a relayed event (`42["msg","k…`).
pub const MARKER: &str = r#"42["msg","k"#;
