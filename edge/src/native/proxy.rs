//! The native WebSocket proxy: frames go both ways unchanged (text and binary), close codes and
//! reasons are passed through, and when one side drops without a close frame the other is closed
//! with 1012 (service restart: reconnect and resume). Pings are answered per hop.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Up;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as UpClose;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The upstream socket type.
pub type UpstreamSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Close code sent to one side when the other vanished without closing.
pub const PEER_LOST: u16 = 1012;

fn to_upstream(message: Message) -> Option<Up> {
    match message {
        Message::Text(text) => Some(Up::text(text.as_str())),
        Message::Binary(bytes) => Some(Up::Binary(bytes)),
        Message::Close(frame) => Some(Up::Close(
            frame.map(|f| UpClose { code: CloseCode::from(f.code), reason: f.reason.as_str().to_owned().into() }),
        )),
        Message::Ping(_) | Message::Pong(_) => None,
    }
}

fn to_client(message: Up) -> Option<Message> {
    match message {
        Up::Text(text) => Some(Message::Text(Utf8Bytes::from(text.as_str()))),
        Up::Binary(bytes) => Some(Message::Binary(bytes)),
        Up::Close(frame) => Some(Message::Close(
            frame.map(|f| CloseFrame { code: u16::from(f.code), reason: Utf8Bytes::from(f.reason.as_str()) }),
        )),
        Up::Ping(_) | Up::Pong(_) | Up::Frame(_) => None,
    }
}

fn lost() -> Message {
    Message::Close(Some(CloseFrame { code: PEER_LOST, reason: Utf8Bytes::from_static("upstream lost; reconnect") }))
}

/// Pumps frames between the visitor and the region until either side closes.
pub async fn pump(client: WebSocket, upstream: UpstreamSocket) {
    let (mut client_tx, mut client_rx) = client.split();
    let (mut up_tx, mut up_rx) = upstream.split();
    let client_to_up = async {
        while let Some(Ok(message)) = client_rx.next().await {
            let closing = matches!(message, Message::Close(_));
            if let Some(up) = to_upstream(message)
                && up_tx.send(up).await.is_err()
            {
                return;
            }
            if closing {
                return;
            }
        }
        // The visitor vanished: tell the region.
        let _ = up_tx.send(Up::Close(Some(UpClose { code: CloseCode::Away, reason: "visitor gone".into() }))).await;
    };
    let up_to_client = async {
        while let Some(Ok(message)) = up_rx.next().await {
            let closing = matches!(message, Up::Close(_));
            if let Some(out) = to_client(message)
                && client_tx.send(out).await.is_err()
            {
                return;
            }
            if closing {
                return;
            }
        }
        let _ = client_tx.send(lost()).await;
    };
    // When one direction ends, the other has had its close frame sent; stop both.
    tokio::select! {
        () = client_to_up => {}
        () = up_to_client => {}
    }
}
